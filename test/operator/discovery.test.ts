import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, observeRuns, runOperator, runOperatorObserved } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("which PVCs a run backs up", () => {
  test("unmounted PVC backed up, opted-out PVC skipped, shared PVC once, long names sharing a prefix both backed up", async () => {
    const namespace = await cluster.freshNamespace("discovery");
    const prefix = "a".repeat(50);
    await cluster.createBoundPvc(namespace, `${prefix}-first-volume`);
    await cluster.createBoundPvc(namespace, `${prefix}-second-volume`);
    await createAppPod(cluster, namespace, "two-volumes", [`${prefix}-first-volume`, `${prefix}-second-volume`]);
    await cluster.createBoundPvc(namespace, "unmounted");
    await cluster.createBoundPvc(namespace, "opted-out", { annotations: { "kopia-k8s.io/backup": "false" } });
    await createAppPod(cluster, namespace, "opted-out-user", ["opted-out"]);
    await cluster.createBoundPvc(namespace, "shared", { accessModes: ["ReadWriteMany"] });
    await createAppPod(cluster, namespace, "reader-1", ["shared"]);
    await createAppPod(cluster, namespace, "reader-2", ["shared"]);

    const observed = await observeRuns(cluster, [namespace]);
    // One Job per PVC: the two long names sharing a prefix must get two distinct Job names.
    const run = await runOperator(cluster, [namespace], ["--volumes-per-job", "1"]);
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    const backedUp = [...observed.jobs.values()].map((job) => job.metadata!.annotations!["kopia-k8s.io/pvc"]).sort();
    expect(backedUp).toEqual([`${prefix}-first-volume`, `${prefix}-second-volume`, "shared", "unmounted"]);
    const names = [...observed.jobs.values()].map((job) => job.metadata!.name!);
    expect(new Set(names).size).toBe(4);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(63);
    expect(run.stdout).toContain(`skipping ${namespace}/pvc/opted-out: annotated kopia-k8s.io/backup=false`);
    expect(run.stdout).toMatch(/mounted by reader-1, reader-2/);
  });

  test("--dry-run prints hooks and Jobs with their nodes and creates nothing", async () => {
    const namespace = await cluster.freshNamespace("dry-run");
    const node = cluster.nodes[1]!;
    await cluster.createBoundPvc(namespace, "db", { node });
    await createAppPod(cluster, namespace, "db-0", ["db"], { annotations: { "kopia-k8s.io/pre-backup": "pg_dump > /data/dump.sql" } });
    const { run, jobsCreated } = await runOperatorObserved(cluster, [namespace], ["--dry-run"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain(`would run pre-backup hook in ${namespace}/db-0 (app, timeout 300s, on error abort): pg_dump > /data/dump.sql`);
    expect(run.stdout).toContain(`would back up ${namespace}/db on node ${node} (mounted by db-0)`);
    expect(jobsCreated).toBe(0);
    expect((await cluster.core.listNamespacedSecret({ namespace })).items).toEqual([]);
  });

  test("a ReadWriteOncePod volume in use fails fast with guidance, without a Job", async () => {
    const namespace = await cluster.freshNamespace("rwop");
    await cluster.createBoundPvc(namespace, "exclusive", { accessModes: ["ReadWriteOncePod"] });
    await createAppPod(cluster, namespace, "holder", ["exclusive"]);
    const { run, jobsCreated } = await runOperatorObserved(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).toContain("ReadWriteOncePod volume is held by pod holder");
    expect(jobsCreated).toBe(0);
  });
});
