import { KubeConfig } from "@kubernetes/client-node";
import { join } from "node:path";
import type { TestCluster } from "./cluster.ts";
import { kubectl } from "./kubectl.ts";
import { tempDir } from "./processes.ts";

/** kubectl as the cluster's admin, from the repository root (so `-k deploy/` and `-f deploy/…` resolve). */
export const kubectlAsAdmin = (cluster: TestCluster) => (...args: string[]) => kubectl(cluster.kubeconfigPath, ...args);

/** A kubeconfig that authenticates as a ServiceAccount, with a one-hour token from the TokenRequest API. */
export async function serviceAccountKubeconfig(cluster: TestCluster, namespace: string, serviceAccount: string): Promise<string> {
  const token = kubectlAsAdmin(cluster)("create", "token", serviceAccount, "-n", namespace, "--duration", "1h");
  if (token.exitCode !== 0) throw new Error(`kubectl create token ${serviceAccount} -n ${namespace}: ${token.stderr}`);
  const admin = new KubeConfig();
  admin.loadFromFile(cluster.kubeconfigPath);
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ ...admin.getCurrentCluster()!, name: "test" }],
    users: [{ name: serviceAccount, token: token.stdout.trim() }],
    contexts: [{ name: "sa", cluster: "test", user: serviceAccount, namespace }],
    currentContext: "sa",
  });
  const path = join(await tempDir(), "kubeconfig");
  await Bun.write(path, config.exportConfig());
  return path;
}
