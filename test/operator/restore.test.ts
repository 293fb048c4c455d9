import { beforeAll, describe, expect, test } from "bun:test";
import { describeTree } from "../support/corpus.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { runOperatorRestoreWithHostJobs } from "../support/job-runner.ts";
import { createAppPod, jobsIn } from "../support/operator.ts";
import { backedUpNamespace, deleteAtCleanup, volumeForRestore, volumeWithFiles, waitForFirstConsumerClass } from "../support/restore-cluster.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const restoreArgs = (repository: string, jobNamespace: string, ...args: string[]) => ["--repository", repository, "--job-namespace", jobNamespace, ...args];

describe("operator-restore: which snapshot, and the plan", () => {
  test("--dry-run: one short Job (no volume, no token) pins the latest snapshot; the plan is printed and nothing else happens", async () => {
    const namespace = await cluster.freshNamespace("restore-plan");
    await volumeWithFiles(cluster, namespace, "photos");
    const { repository, kopia } = await backedUpNamespace(cluster, namespace);
    const [snapshot] = await kopia.snapshots(`photos@${namespace}:/data`);

    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, restoreArgs(repository, namespace, "--namespace", namespace, "--pvc", "photos", "--to-pvc", "copy", "--dry-run"));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`snapshot ${snapshot!.id} of photos@${namespace}:/data`);
    expect(run.output).toContain(`would create PVC ${namespace}/copy from the original PVC: 1Gi, ReadWriteOnce, storage class ${cluster.storageClass}`);
    expect(run.output).toContain(`would restore into the new PVC ${namespace}/copy on any node`);
    expect(run.output).toContain("nothing was changed");
    expect(runs.map((hostRun) => hostRun.role)).toEqual(["resolve"]);
    const resolve = runs[0]!;
    expect(resolve.spec.spec!.automountServiceAccountToken).toBe(false);
    expect(resolve.spec.spec!.volumes!.some((volume) => volume.persistentVolumeClaim)).toBe(false);
    expect(resolve.args).toContain("--dry-run");
    await expect(cluster.core.readNamespacedPersistentVolumeClaim({ namespace, name: "copy" })).rejects.toMatchObject({ code: 404 });
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });

  test("no snapshot matches --as-of: exit 8 with kopia-restore's reason, and no restore Job", async () => {
    const namespace = await cluster.freshNamespace("restore-none");
    await volumeWithFiles(cluster, namespace, "photos");
    const { repository } = await backedUpNamespace(cluster, namespace);
    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, restoreArgs(repository, namespace, "--namespace", namespace, "--pvc", "photos", "--as-of", "2001-01-01T00:00:00Z"));
    expect(run.exitCode, run.output).toBe(8);
    expect(run.output).toContain("2001-01-01T00:00:00Z");
    expect(runs.map((hostRun) => hostRun.role)).toEqual(["resolve"]);
  });
});

describe("operator-restore into a new PVC", () => {
  test("--to-namespace --create-namespace: the namespace and the PVC (spec of the original) are created, the PVC binds to its PV, the tree is the backup's", async () => {
    const namespace = await cluster.freshNamespace("restore-src");
    const volume = await volumeWithFiles(cluster, namespace, "photos");
    const { repository, kopia } = await backedUpNamespace(cluster, namespace);
    const [snapshot] = await kopia.snapshots(`photos@${namespace}:/data`);
    const target = `${namespace.slice(0, 40)}-copy`;
    deleteAtCleanup(cluster, target);
    const pv = await volumeForRestore(cluster, { namespace: target, pvc: "photos-copy" });

    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, restoreArgs(repository, namespace, "--namespace", namespace, "--pvc", "photos", "--to-namespace", target, "--to-pvc", "photos-copy", "--create-namespace"));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(new RegExp(`${target}\\s+photos-copy\\s+\\S+\\s+restored\\s`));
    const restore = runs.find((hostRun) => hostRun.role === "restore")!;
    expect(restore.result.exitCode, restore.result.output).toBe(0);
    expect(restore.args).toContain(snapshot!.id);
    expect(await describeTree(pv.hostPath)).toEqual(await describeTree(volume.hostPath));
    const pvc = await cluster.core.readNamespacedPersistentVolumeClaim({ namespace: target, name: "photos-copy" });
    expect(pvc.spec!.volumeName).toBe(pv.pvName);
    expect(pvc.metadata!.annotations!["kopia-k8s.io/restored-from"]).toContain(snapshot!.id);
    expect(await jobsIn(cluster, target)).toEqual([]);
  });

  test("a WaitForFirstConsumer class: the restore Job is the claim's first consumer; it binds where the PV lives", async () => {
    const namespace = await cluster.freshNamespace("restore-wffc");
    const volume = await volumeWithFiles(cluster, namespace, "photos");
    const { repository } = await backedUpNamespace(cluster, namespace);
    const storageClass = await waitForFirstConsumerClass(cluster);
    const node = cluster.nodes[2]!;
    const pv = await volumeForRestore(cluster, { namespace, pvc: "late", storageClass, node, free: true });

    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, restoreArgs(repository, namespace, "--namespace", namespace, "--pvc", "photos", "--to-pvc", "late", "--storage-class", storageClass, "--pending-timeout", "2m"));
    expect(run.exitCode, run.output).toBe(0);
    const restore = runs.find((hostRun) => hostRun.role === "restore")!;
    expect(restore.spec.spec!.nodeName).toBe(node);
    expect(await describeTree(pv.hostPath)).toEqual(await describeTree(volume.hostPath));
    const pvc = await cluster.core.readNamespacedPersistentVolumeClaim({ namespace, name: "late" });
    expect(pvc.spec!.storageClassName).toBe(storageClass);
    expect(pvc.spec!.volumeName).toBe(pv.pvName);
  });
});

describe("operator-restore in place", () => {
  test("refused while a running pod mounts the PVC: exit 9 naming the pod and the command that stops it; nothing written", async () => {
    const namespace = await cluster.freshNamespace("restore-mounted");
    const volume = await volumeWithFiles(cluster, namespace, "photos");
    await createAppPod(cluster, namespace, "gallery", ["photos"]);
    const { repository } = await backedUpNamespace(cluster, namespace);
    await Bun.write(`${volume.hostPath}/changed-after-backup.txt`, "new");
    const before = await describeTree(volume.hostPath);

    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, restoreArgs(repository, namespace, "--namespace", namespace, "--pvc", "photos", "--overwrite"));
    expect(run.exitCode, run.output).toBe(9);
    expect(run.output).toContain(`${namespace}/photos is mounted by running pods gallery; nothing was written`);
    expect(run.output).toContain(`kubectl -n ${namespace} delete pod gallery`);
    expect(runs.map((hostRun) => hostRun.role)).toEqual(["resolve"]);
    expect(await describeTree(volume.hostPath)).toEqual(before);
  });

  test("--allow-running: the restore Job runs beside the app, pinned to the app's node (ReadWriteOnce)", async () => {
    const namespace = await cluster.freshNamespace("restore-beside");
    const volume = await volumeWithFiles(cluster, namespace, "photos");
    const node = cluster.nodes[1]!;
    await createAppPod(cluster, namespace, "gallery", ["photos"], { node });
    const { repository } = await backedUpNamespace(cluster, namespace);
    const backedUp = await describeTree(volume.hostPath);
    await Bun.write(`${volume.hostPath}/changed-after-backup.txt`, "new");

    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, restoreArgs(repository, namespace, "--namespace", namespace, "--pvc", "photos", "--allow-running", "--overwrite", "--delete-extra"));
    expect(run.exitCode, run.output).toBe(0);
    const restore = runs.find((hostRun) => hostRun.role === "restore")!;
    expect(restore.spec.spec!.nodeName).toBe(node);
    expect(restore.spec.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields).toEqual([{ key: "metadata.name", operator: "In", values: [node] }]);
    expect(await describeTree(volume.hostPath)).toEqual(backedUp);
  });
});
