import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { runOperatorWithHostJobs } from "../support/job-runner.ts";
import { rawKopia } from "../support/kopia.ts";
import { createAppPod, jobsIn, startOperator } from "../support/operator.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import { collect } from "../support/scripts.ts";
import type { BackupSummary } from "../../shared/snapshot.ts";
import { fitSummary, summarizeVolumes } from "../../shared/volumes-summary.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("--volumes-per-job: one Job for the PVCs of a namespace on one node", () => {
  test("four PVCs of one pod on one node in Jobs of three and one, a lone PVC elsewhere, an unmounted one: each its own snapshot, identity and tags; every one restores; the pod's post-backup hook runs once all four are done", async () => {
    const namespace = await cluster.freshNamespace("grouped");
    const [nodeA, nodeB] = cluster.nodes as [string, string];
    const markers = await tempDir();
    const onA = ["db-0", "db-1", "db-2", "db-3"];
    const folders: Record<string, string> = {};
    for (const claim of onA) folders[claim] = (await cluster.createBoundPvc(namespace, claim, { node: nodeA, size: `${onA.indexOf(claim) + 1}Gi` })).hostPath;
    folders.cache = (await cluster.createBoundPvc(namespace, "cache", { node: nodeB })).hostPath;
    folders.loose = (await cluster.createBoundPvc(namespace, "loose")).hostPath;
    for (const folder of Object.values(folders)) await makeCorpus(folder, { largeFileMiB: 1 });
    await createAppPod(cluster, namespace, "db", onA, { node: nodeA, annotations: { "kopia-k8s.io/post-backup": `echo resuming writes; touch ${markers}/db-post` } });
    await createAppPod(cluster, namespace, "web", ["cache"], { node: nodeB });

    const repo = join(await tempDir(), "repo");
    const { run, runs } = await runOperatorWithHostJobs(cluster, namespace, ["--repository", `filesystem://${repo}`, "--no-maintenance", "--volumes-per-job", "3", "--log-format", "json"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain("6 PVCs in 4 Jobs");
    const backups = runs.filter((hostRun) => hostRun.role === "backup");
    expect(backups.map((hostRun) => hostRun.spec.metadata!.annotations!["kopia-k8s.io/pvc"]).sort()).toEqual(["cache", "db-0,db-1,db-2", "db-3", "loose"]);
    const grouped = backups.find((hostRun) => hostRun.args.includes("--volumes"))!;
    expect(grouped.result.exitCode, grouped.result.output).toBe(0);
    for (const claim of [...onA, "cache", "loose"]) expect(run.stdout).toMatch(new RegExp(`"msg":"\\d of 6 done: ${namespace}/${claim} success`));
    // The post-backup hook of pod db ran after the last of its four volumes was done, and once.
    const lastDbDone = Math.max(...onA.map((claim) => run.stdout.indexOf(`${namespace}/${claim} success`)));
    expect(run.stdout.indexOf(`[${namespace}/db] resuming writes`)).toBeGreaterThan(lastDbDone);
    expect(run.stdout.split(`[${namespace}/db] resuming writes`)).toHaveLength(2);

    const kopia = await rawKopia(["filesystem", "--path", repo]);
    for (const [claim, folder] of Object.entries(folders)) {
      const snapshots = await kopia.snapshots(`${claim}@${namespace}:/data`);
      expect(snapshots).toHaveLength(1);
      const size = claim.startsWith("db-") ? `${onA.indexOf(claim) + 1}Gi` : "1Gi";
      expect(snapshots[0]!.tags).toMatchObject({ "tag:k8s-size": size, "tag:k8s-access-modes": "ReadWriteOnce" });
      const restored = join(await tempDir(), "restored");
      await kopia.restore(snapshots[0]!.id, restored);
      expect(await describeTree(restored)).toEqual(await describeTree(folder));
    }
  });

  test("one PVC of a grouped Job fails: its row says why, the others succeed, the run exits 7 and the Job is kept", async () => {
    const namespace = await cluster.freshNamespace("grouped-fail", { jobPods: "hang" });
    const claims = ["a", "b", "c"];
    for (const claim of claims) await cluster.createBoundPvc(namespace, claim, { node: cluster.nodes[0]! });
    await createAppPod(cluster, namespace, "app", claims, { node: cluster.nodes[0]! });
    const finished = startOperator(cluster, [namespace], ["--volumes-per-job", "3"]).then(collect);
    let podName = "";
    await waitFor("the grouped backup pod", async () => {
      podName = (await cluster.core.listNamespacedPod({ namespace, labelSelector: "kopia-k8s.io/role=backup" })).items[0]?.metadata?.name ?? "";
      return podName !== "";
    }, 30_000);
    // What kopia-backup --volumes writes when its second volume could not be saved.
    const volume = (pvc: string, overrides: Partial<BackupSummary> = {}): BackupSummary => ({
      result: "success", exitCode: 0, source: `${pvc}@${namespace}:/data`, snapshotId: `k${pvc}`, files: 7, dirs: 1, bytes: 700, errors: 0, ignoredErrors: 0,
      durationSeconds: 1, startTime: "", endTime: "", message: `snapshot k${pvc}`, ...overrides,
    });
    const summary = fitSummary(summarizeVolumes([volume("a"), volume("b", { result: "fatal", exitCode: 1, snapshotId: undefined, files: 0, message: "no snapshot saved: input/output error" }), volume("c")]));
    await cluster.completePod(namespace, podName, { exitCode: 1, message: JSON.stringify(summary) });

    const run = await finished;
    expect(run.exitCode, run.output).toBe(7);
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+a\\s+${cluster.nodes[0]}\\s+success\\s+7\\s`));
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+b\\s+${cluster.nodes[0]}\\s+failed\\s+0\\s`));
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+c\\s+${cluster.nodes[0]}\\s+success\\s+7\\s`));
    expect(run.output).toContain(`${namespace}/b failed on ${cluster.nodes[0]}: no snapshot saved: input/output error`);
    expect(run.stdout).toContain("3 of 3 done");
    expect(run.stderr).toContain("1 of 3 backups failed");
    expect(await jobsIn(cluster, namespace)).toHaveLength(1);
  });
});
