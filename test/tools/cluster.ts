/**
 * The test cluster for manual use; it keeps running after this command exits.
 *   npm run --silent cluster:up     starts it (or finds it running); the last line is the kubeconfig path
 *   npm run --silent cluster:down   stops it and removes its state
 * State: ${XDG_CACHE_HOME:-~/.cache}/kopia-k8s/manual-cluster. Tools: KK_TOOLS_BIN, else provisioned.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { COMPONENTS, componentLogs, controlPlanePids, kubeconfigPathOf, startControlPlane, stopControlPlane, stoppedComponent } from "../support/cluster-kwok.ts";
import { populateCluster } from "../support/cluster-nodes.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const stateDir = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kopia-k8s", "manual-cluster");

function putToolsOnPath(): void {
  let bin = process.env.KK_TOOLS_BIN;
  if (!bin) {
    const run = Bun.spawnSync(["bash", join(repoRoot, "test", "tools", "provision.sh"), "cluster"], { stdout: "pipe", stderr: "inherit" });
    if (run.exitCode !== 0) throw new Error(`test/tools/provision.sh cluster failed with exit ${run.exitCode}`);
    bin = run.stdout.toString().trim().split("\n").at(-1)!;
  }
  process.env.PATH = `${bin}:${process.env.PATH}`;
}

async function up(): Promise<void> {
  const kubeconfigPath = kubeconfigPathOf(stateDir);
  if (controlPlanePids(stateDir).length === COMPONENTS) {
    console.error("the cluster is already running");
  } else {
    await stopControlPlane(stateDir); // whatever is left of an earlier one
    putToolsOnPath();
    mkdirSync(stateDir, { recursive: true });
    const started = performance.now();
    try {
      await startControlPlane(stateDir);
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      await populateCluster(kc, () => stoppedComponent(stateDir));
    } catch (error) {
      console.error(`${(error as Error).message}\n${componentLogs(stateDir)}`);
      await stopControlPlane(stateDir);
      process.exit(1);
    }
    console.error(`the cluster started in ${((performance.now() - started) / 1000).toFixed(1)} s; stop it with: npm run cluster:down`);
  }
  console.log(kubeconfigPath);
}

async function down(): Promise<void> {
  await stopControlPlane(stateDir);
  console.error("the cluster is stopped");
}

const command = process.argv[2];
if (command === "up") await up();
else if (command === "down") await down();
else {
  console.error("usage: bun test/tools/cluster.ts up|down");
  process.exit(2);
}
process.exit(0); // open API connections must not keep this process alive
