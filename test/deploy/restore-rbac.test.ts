import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { describeTree } from "../support/corpus.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { kubectlAsAdmin, serviceAccountKubeconfig } from "../support/identities.ts";
import { runOperatorRestoreWithHostJobs } from "../support/job-runner.ts";
import { backedUpNamespace, deleteAtCleanup, deploymentMounting, volumeForRestore, volumeWithFiles } from "../support/restore-cluster.ts";

let cluster: TestCluster;
let kubectl: ReturnType<typeof kubectlAsAdmin>;

beforeAll(async () => {
  cluster = await sharedCluster();
  kubectl = kubectlAsAdmin(cluster);
});
afterAll(() => {
  // Not the namespace: deploy/'s own test may use it next.
  kubectl("delete", "clusterrolebinding/kopia-k8s-operator-restore", "clusterrole/kopia-k8s-operator-restore", "--ignore-not-found", "--wait=false");
  kubectl("delete", "-n", "kopia-k8s", "serviceaccount/operator-restore", "--ignore-not-found", "--wait=false");
});

describe("deploy/restore/: operator-restore's least-privilege RBAC", () => {
  test("kubectl apply --dry-run=server -k deploy/restore/ passes", () => {
    kubectl("create", "namespace", "kopia-k8s"); // or deploy/'s test made it
    expect(kubectl("get", "namespace", "kopia-k8s").exitCode).toBe(0);
    const dryRun = kubectl("apply", "--dry-run=server", "-k", "deploy/restore/");
    expect(dryRun.exitCode, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain("clusterrole.rbac.authorization.k8s.io/kopia-k8s-operator-restore created (server dry run)");
  });

  test("with exactly the shipped rights: --scale-down in place, then into a new PVC in a new namespace; Secrets stay unreadable", async () => {
    const applied = kubectl("apply", "-k", "deploy/restore/");
    expect(applied.exitCode, applied.stderr).toBe(0);
    const kubeconfig = await serviceAccountKubeconfig(cluster, "kopia-k8s", "operator-restore");
    const namespace = await cluster.freshNamespace("restore-rbac");
    const volume = await volumeWithFiles(cluster, namespace, "data");
    const app = await deploymentMounting(cluster, namespace, "web", "data");
    const { repository } = await backedUpNamespace(cluster, namespace);
    const backedUp = await describeTree(volume.hostPath);
    await Bun.write(`${volume.hostPath}/written-after-backup.txt`, "new");

    const inPlace = await runOperatorRestoreWithHostJobs(cluster, ["--repository", repository, "--job-namespace", namespace, "--namespace", namespace, "--pvc", "data", "--scale-down", "--overwrite", "--delete-extra"], { KUBECONFIG: kubeconfig });
    expect(inPlace.run.exitCode, inPlace.run.output).toBe(0);
    expect(await describeTree(volume.hostPath)).toEqual(backedUp);
    expect((await app.read()).spec!.replicas).toBe(1);

    const target = `${namespace.slice(0, 40)}-new`;
    deleteAtCleanup(cluster, target);
    const pv = await volumeForRestore(cluster, { namespace: target, pvc: "data" });
    const copy = await runOperatorRestoreWithHostJobs(cluster, ["--repository", repository, "--job-namespace", namespace, "--namespace", namespace, "--pvc", "data", "--to-namespace", target, "--create-namespace"], { KUBECONFIG: kubeconfig });
    expect(copy.run.exitCode, copy.run.output).toBe(0);
    expect(await describeTree(pv.hostPath)).toEqual(backedUp);

    const asRestore = new KubeConfig();
    asRestore.loadFromFile(kubeconfig);
    const core = asRestore.makeApiClient(CoreV1Api);
    await expect(core.listSecretForAllNamespaces({})).rejects.toMatchObject({ code: 403 });
    await expect(core.readNamespacedSecret({ name: "anything", namespace })).rejects.toMatchObject({ code: 403 });
  });
});
