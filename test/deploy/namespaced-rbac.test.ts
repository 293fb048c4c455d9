import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, operatorArgs, operatorEnv } from "../support/operator.ts";
import { kubectlAsAdmin, serviceAccountKubeconfig } from "../support/identities.ts";
import { runScript } from "../support/scripts.ts";

let cluster: TestCluster;
let kubectl: ReturnType<typeof kubectlAsAdmin>;

beforeAll(async () => {
  cluster = await sharedCluster();
  kubectl = kubectlAsAdmin(cluster);
});

/** A ServiceAccount with deploy/namespaced/clusterrole.yaml bound in the given namespaces only; a kubeconfig for it. */
async function scopedIdentity(home: string, boundIn: string[]): Promise<string> {
  const apply = kubectl("apply", "-f", "deploy/namespaced/clusterrole.yaml");
  expect(apply.exitCode, apply.stderr).toBe(0);
  expect(kubectl("create", "serviceaccount", "scoped", "-n", home).exitCode).toBe(0);
  for (const namespace of boundIn) {
    const bound = kubectl("create", "rolebinding", "kopia-k8s-operator-backup", "-n", namespace, "--clusterrole=kopia-k8s-operator-backup-namespaced", `--serviceaccount=${home}:scoped`);
    expect(bound.exitCode, bound.stderr).toBe(0);
  }
  return serviceAccountKubeconfig(cluster, home, "scoped");
}

describe("11 --namespace with rights in those namespaces only", () => {
  test("a ServiceAccount bound only in the namespaces it backs up: hooks, Jobs, init and maintenance all work; a namespace it has no right in is one clear line", async () => {
    const apps = await cluster.freshNamespace("scoped-apps");
    const more = await cluster.freshNamespace("scoped-more");
    const foreign = await cluster.freshNamespace("scoped-foreign");
    for (const namespace of [apps, more, foreign]) await cluster.createBoundPvc(namespace, "data");
    await createAppPod(cluster, apps, "app", ["data"], { annotations: { "kopia-k8s.io/pre-backup": "echo frozen", "kopia-k8s.io/post-backup": "echo thawed" } });
    const kubeconfig = await scopedIdentity(apps, [apps, more]);
    const env = { ...operatorEnv(cluster), KUBECONFIG: kubeconfig };

    const args = (await operatorArgs([apps, more])).filter((arg) => arg !== "--no-maintenance");
    const run = await runScript("operator-backup", [...args, "--maintenance-namespace", apps, "--uuid", `scoped${crypto.randomUUID().slice(0, 6)}`], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`[${apps}/app] frozen`);
    expect(run.output).toContain("2 of 2 done");
    expect(run.output).toContain("maintenance succeeded");

    const refused = await runScript("operator-backup", [...(await operatorArgs([apps, foreign])), "--maintenance-namespace", apps], env);
    expect(refused.exitCode, refused.output).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(new RegExp(`cannot list (pods|persistentvolumeclaims) in namespace ${foreign}: .*\\(HTTP 403\\); give this identity the 'list' verb on (pods|persistentvolumeclaims) in the core API group`));
  });
});
