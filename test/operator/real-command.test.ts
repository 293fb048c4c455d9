import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { runOperatorWithHostJobs } from "../support/job-runner.ts";
import { rawKopia } from "../support/kopia.ts";
import { createAppPod } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("a backup Job's real command", () => {
  test("kopia-backup with the Job's args, env and Secret, the PV's folder as the mount: restore matches; the table shows its summary", async () => {
    const namespace = await cluster.freshNamespace("real");
    const volume = await cluster.createBoundPvc(namespace, "photos", { node: cluster.nodes[0]! });
    await makeCorpus(volume.hostPath, { largeFileMiB: 4 });
    await createAppPod(cluster, namespace, "gallery", ["photos"]);
    const repo = join(await tempDir(), "repo");
    const { run, runs } = await runOperatorWithHostJobs(cluster, namespace, ["--repository", `filesystem://${repo}`, "--no-maintenance", "--keep-daily", "5"]);
    expect(run.exitCode, run.output).toBe(0);
    const backup = runs.find((hostRun) => hostRun.role === "backup")!;
    expect(backup.command).toBe("kopia-backup");
    expect(backup.result.exitCode, backup.result.output).toBe(0);
    const { files } = JSON.parse(backup.terminationMessage) as { files: number };
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+photos\\s+${cluster.nodes[0]}\\s+success\\s+${files}\\s`));

    const kopia = await rawKopia(["filesystem", "--path", repo]);
    const snapshots = await kopia.snapshots(`photos@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    // What a restore into an empty cluster needs to recreate the claim travels with the snapshot.
    expect(snapshots[0]!.tags).toMatchObject({ "tag:k8s-size": "1Gi", "tag:k8s-storage-class": cluster.storageClass, "tag:k8s-access-modes": "ReadWriteOnce" });
    const restored = join(await tempDir(), "restored");
    await kopia.restore(snapshots[0]!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(volume.hostPath));
    const policy = await kopia.run(["policy", "show", `photos@${namespace}:/data`]);
    expect(policy).toMatch(/Daily snapshots:\s+5/);
  });
});
