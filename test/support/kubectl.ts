import { repoRoot } from "./processes.ts";

/** kubectl (from the provisioned tools) against a cluster, run in the repository's root folder. */
export function kubectl(kubeconfigPath: string, ...args: string[]) {
  const run = Bun.spawnSync(["kubectl", "--kubeconfig", kubeconfigPath, ...args], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}
