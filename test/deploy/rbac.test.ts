import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, operatorArgs, operatorEnv, jobsIn } from "../support/operator.ts";
import { kubectlAsAdmin, serviceAccountKubeconfig } from "../support/identities.ts";
import { runScript } from "../support/scripts.ts";

let cluster: TestCluster;
let kubectl: ReturnType<typeof kubectlAsAdmin>;

beforeAll(async () => {
  cluster = await sharedCluster();
  kubectl = kubectlAsAdmin(cluster);
});
afterAll(() => {
  kubectl("delete", "-k", "deploy/", "--ignore-not-found", "--wait=false");
});

describe("deploy/: the shipped manifests and their least-privilege RBAC", () => {
  test("kubectl apply --dry-run=server -k deploy/ passes", () => {
    // A server-side dry run cannot create the namespace its other objects go into (deploy/restore/'s test may have made it).
    kubectl("create", "namespace", "kopia-k8s");
    expect(kubectl("get", "namespace", "kopia-k8s").exitCode).toBe(0);
    const dryRun = kubectl("apply", "--dry-run=server", "-k", "deploy/");
    expect(dryRun.exitCode, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain("clusterrole.rbac.authorization.k8s.io/kopia-k8s-operator-backup created (server dry run)");
    expect(dryRun.stdout).toContain("cronjob.batch/operator-backup created (server dry run)");
    expect(dryRun.stdout).toContain("serviceaccount/operator-backup created (server dry run)");
  });

  test("a full run (hook, Jobs, per-Job Secrets, maintenance) works with exactly the shipped permissions; other Secrets and RBAC writes are refused", async () => {
    const applied = kubectl("apply", "-k", "deploy/");
    expect(applied.exitCode, applied.stderr).toBe(0);
    const kubeconfig = await serviceAccountKubeconfig(cluster, "kopia-k8s", "operator-backup");

    const namespace = await cluster.freshNamespace("rbac");
    await cluster.createBoundPvc(namespace, "data");
    await cluster.createBoundPvc(namespace, "unmounted");
    await createAppPod(cluster, namespace, "app", ["data"], { annotations: { "kopia-k8s.io/pre-backup": "echo hook ran", "kopia-k8s.io/post-backup": "echo post hook ran" } });
    const args = (await operatorArgs([namespace])).filter((arg) => arg !== "--no-maintenance");
    const run = await runScript("operator-backup", [...args, "--maintenance-namespace", namespace], { ...operatorEnv(cluster), KUBECONFIG: kubeconfig });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`[${namespace}/app] hook ran`);
    expect(run.output).toContain("2 of 2 done");
    expect(run.output).toContain("maintenance succeeded");
    expect(await jobsIn(cluster, namespace)).toEqual([]);

    const asOperator = new KubeConfig();
    asOperator.loadFromFile(kubeconfig);
    const core = asOperator.makeApiClient(CoreV1Api);
    await expect(core.readNamespacedSecret({ name: "kopia-repository", namespace: "kopia-k8s" })).rejects.toMatchObject({ code: 403 });
    await expect(core.listSecretForAllNamespaces({})).rejects.toMatchObject({ code: 403 });
    const rbac = asOperator.makeApiClient(RbacAuthorizationV1Api);
    await expect(rbac.createClusterRoleBinding({ body: { metadata: { name: "escalate" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" }, subjects: [{ kind: "ServiceAccount", name: "operator-backup", namespace: "kopia-k8s" }] } })).rejects.toMatchObject({ code: 403 });
    await expect(rbac.createNamespacedRole({ namespace, body: { metadata: { name: "more" }, rules: [] } })).rejects.toMatchObject({ code: 403 });
  });
});
