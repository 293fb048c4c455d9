import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { runOperatorWithHostJobs } from "../support/job-runner.ts";
import { rawKopia } from "../support/kopia.ts";
import { createAppPod, jobsIn, runOperator, startOperator } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import { collect } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

describe("the Kopia identity of several clusters, partial backups, a reused run id", () => {
  test("12 --cluster-name: the volume's Kopia source is pvc@<namespace>.<cluster name>:/data", async () => {
    const namespace = await cluster.freshNamespace("cluster-name");
    const volume = await cluster.createBoundPvc(namespace, "data", { node: cluster.nodes[0]! });
    await Bun.write(join(volume.hostPath, "a.txt"), "a\n");
    await createAppPod(cluster, namespace, "app", ["data"]);
    const repository = join(await tempDir(), "repo");
    const { run } = await runOperatorWithHostJobs(cluster, namespace, ["--repository", `filesystem://${repository}`, "--no-maintenance", "--cluster-name", "homelab.lan"]);
    expect(run.exitCode, run.output).toBe(0);
    const kopia = await rawKopia(["filesystem", "--path", repository]);
    expect(await kopia.snapshots(`data@${namespace}.homelab.lan:/data`)).toHaveLength(1);
    expect(await kopia.snapshots(`data@${namespace}:/data`)).toHaveLength(0);
    const restored = join(await tempDir(), "restored");
    await kopia.restore(`data@${namespace}.homelab.lan:/data`, restored);
    expect(await Bun.file(join(restored, "a.txt")).text()).toBe("a\n");
  });

  test("14 a partial backup (exit 3, snapshot saved) shows as partial, and the run exits 3", async () => {
    const namespace = await cluster.freshNamespace("partial", { jobPods: "hang" });
    await cluster.createBoundPvc(namespace, "data");
    const operator = startOperator(cluster, [namespace]);
    const finished = operator.then(collect);
    let pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: "kopia-k8s.io/role=backup" });
    for (let waited = 0; pods.items.length === 0 && waited < 300; waited++) {
      await Bun.sleep(100);
      pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: "kopia-k8s.io/role=backup" });
    }
    const summary = { result: "partial", exitCode: 3, source: `data@${namespace}:/data`, files: 10, dirs: 1, bytes: 100, errors: 1, ignoredErrors: 0, durationSeconds: 1, startTime: "", endTime: "", message: "snapshot saved without 1 unreadable entries" };
    await cluster.completePod(namespace, pods.items[0]!.metadata!.name!, { exitCode: 3, message: JSON.stringify(summary) });
    const run = await finished;
    expect(run.exitCode, run.output).toBe(3);
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+data\\s+\\S+\\s+partial\\s+10\\s`));
    expect(run.stderr).toContain("1 of 1 backups are partial");
    expect(await jobsIn(cluster, namespace)).toHaveLength(1); // kept: its log names the unreadable files
  });

  test("14 --uuid given again while that run's failed Jobs remain: exit 2 with the command that removes them, no Job created", async () => {
    const namespace = await cluster.freshNamespace("uuid", { jobPods: "fail" });
    await cluster.createBoundPvc(namespace, "data");
    const runId = `again${crypto.randomUUID().slice(0, 8)}`;
    const first = await runOperator(cluster, [namespace], ["--uuid", runId]);
    expect(first.exitCode, first.output).toBe(7);
    const kept = await jobsIn(cluster, namespace);
    expect(kept).toHaveLength(1);
    const again = await runOperator(cluster, [namespace], ["--uuid", runId]);
    expect(again.exitCode, again.output).toBe(2);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain(`--uuid: Jobs of an earlier run with id ${runId} still exist`);
    expect(again.stderr).toContain(`kubectl delete jobs,secrets -A -l kopia-k8s.io/run-id=${runId}`);
    expect(again.output).not.toContain("409");
    expect((await jobsIn(cluster, namespace)).map((job) => job.metadata!.uid)).toEqual(kept.map((job) => job.metadata!.uid));
  });
});
