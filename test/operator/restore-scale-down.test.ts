import { beforeAll, describe, expect, test } from "bun:test";
import { Watch } from "@kubernetes/client-node";
import { rm } from "node:fs/promises";
import { describeTree } from "../support/corpus.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { runOperatorRestoreWithHostJobs } from "../support/job-runner.ts";
import { backedUpNamespace, deploymentMounting, volumeWithFiles } from "../support/restore-cluster.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const REPLICAS_ANNOTATION = "kopia-k8s.io/restore-replicas";

/** A Deployment's volume (2 pods), backed up, then changed (one file added, one deleted), as before a restore. */
async function changedAfterBackup(prefix: string) {
  const namespace = await cluster.freshNamespace(prefix);
  const volume = await volumeWithFiles(cluster, namespace, "data");
  const app = await deploymentMounting(cluster, namespace, "web", "data", 2);
  const { repository } = await backedUpNamespace(cluster, namespace);
  const backedUp = await describeTree(volume.hostPath);
  await Bun.write(`${volume.hostPath}/written-after-backup.txt`, "new");
  await rm(`${volume.hostPath}/script.sh`);
  return { namespace, volume, app, repository, backedUp };
}

describe("operator-restore --scale-down", () => {
  test("scales the Deployment to 0, waits for its pods to go, restores (a mirror with --overwrite --delete-extra), then scales it back", async () => {
    const { namespace, volume, app, repository, backedUp } = await changedAfterBackup("restore-scale");
    // When the app's last pod was gone: the restore must not start before.
    let lastAppPodGone = 0;
    const podWatch = await new Watch(cluster.kc).watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: "app=web" }, (phase) => {
      if (phase === "DELETED") lastAppPodGone = Date.now();
    }, () => {});
    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, ["--repository", repository, "--job-namespace", namespace, "--namespace", namespace, "--pvc", "data", "--scale-down", "--overwrite", "--delete-extra"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`scaled ${namespace}/deployment/web to 0 (was 2`);
    expect(run.output).toContain(`scaled ${namespace}/deployment/web back to 2`);
    expect(await describeTree(volume.hostPath)).toEqual(backedUp);
    podWatch.abort();
    const restore = runs.find((hostRun) => hostRun.role === "restore")!;
    expect(lastAppPodGone).toBeGreaterThan(0);
    expect(restore.startedAt).toBeGreaterThanOrEqual(lastAppPodGone);
    expect(restore.args).toEqual(expect.arrayContaining(["--overwrite", "--delete-extra"]));
    const deployment = await app.read();
    expect(deployment.spec!.replicas).toBe(2);
    expect(deployment.metadata!.annotations?.[REPLICAS_ANNOTATION]).toBeUndefined();
  });

  test("a StatefulSet: scaled to 0 through its /scale, its pod gone before the restore, scaled back after it", async () => {
    const namespace = await cluster.freshNamespace("restore-sts");
    const volume = await volumeWithFiles(cluster, namespace, "data");
    const db = await deploymentMounting(cluster, namespace, "db", "data", 1, "StatefulSet");
    const { repository } = await backedUpNamespace(cluster, namespace);
    const backedUp = await describeTree(volume.hostPath);
    await Bun.write(`${volume.hostPath}/written-after-backup.txt`, "new");
    const { run } = await runOperatorRestoreWithHostJobs(cluster, ["--repository", repository, "--job-namespace", namespace, "--namespace", namespace, "--pvc", "data", "--scale-down", "--overwrite", "--delete-extra"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`scaled ${namespace}/statefulset/db to 0 (was 1`);
    expect(run.output).toContain(`scaled ${namespace}/statefulset/db back to 1`);
    expect(await describeTree(volume.hostPath)).toEqual(backedUp);
    const statefulSet = await db.read();
    expect(statefulSet.spec!.replicas).toBe(1);
    expect(statefulSet.metadata!.annotations?.[REPLICAS_ANNOTATION]).toBeUndefined();
  });

  test("a restore that fails leaves the Deployment at 0, its count remembered, and says so", async () => {
    const { namespace, app, repository } = await changedAfterBackup("restore-scale-fail");
    // No --overwrite: kopia-restore refuses the volume that is not empty (exit 9) after the app was stopped.
    const { run } = await runOperatorRestoreWithHostJobs(cluster, ["--repository", repository, "--job-namespace", namespace, "--namespace", namespace, "--pvc", "data", "--scale-down"]);
    expect(run.exitCode, run.output).toBe(9);
    expect(run.output).toContain(`deployment/web in ${namespace} stay at 0 replicas because the restore did not succeed`);
    const deployment = await app.read();
    expect(deployment.spec!.replicas).toBe(0);
    expect(deployment.metadata!.annotations?.[REPLICAS_ANNOTATION]).toBe("2");
    expect(await app.runningPods()).toEqual([]);
  });
});
