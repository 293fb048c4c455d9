import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, observeRuns, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("--node-concurrency bounds the Jobs on one node, --concurrency the whole run", () => {
  test("6 volumes on one node, 2 on another, 2 on no node: one Job per node at a time, four at once over the run", async () => {
    const namespace = await cluster.freshNamespace("node-slots");
    const [busy, quiet] = cluster.nodes as [string, string];
    const busyClaims = Array.from({ length: 6 }, (_, index) => `busy-${index}`);
    const quietClaims = ["quiet-0", "quiet-1"];
    for (const claim of busyClaims) await cluster.createBoundPvc(namespace, claim, { node: busy });
    for (const claim of quietClaims) await cluster.createBoundPvc(namespace, claim, { node: quiet });
    // Mounted by no pod and pinned by no PV: its Job has no node and counts against the total only.
    for (const claim of ["loose-0", "loose-1"]) await cluster.createBoundPvc(namespace, claim);
    await createAppPod(cluster, namespace, "busy-app", busyClaims, { node: busy });
    await createAppPod(cluster, namespace, "quiet-app", quietClaims, { node: quiet });

    const observed = await observeRuns(cluster, [namespace]);
    const run = await runOperator(cluster, [namespace], ["--concurrency", "4", "--node-concurrency", "1", "--volumes-per-job", "1", "--job-annotation", "kopia-k8s.test/run-duration=700ms"]);
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain("10 of 10 done");
    expect(run.stdout).toContain("10 PVCs in 10 Jobs (4 Jobs at once, 1 on one node)");
    expect(observed.jobs.size).toBe(10);
    expect(Object.fromEntries(observed.maxUnfinishedByNode)).toEqual({ [busy]: 1, [quiet]: 1 });
    // The busy node's six Jobs ran one after another while the others went alongside them.
    expect(observed.maxUnfinished).toBeGreaterThanOrEqual(3);
    expect(observed.maxUnfinished).toBeLessThanOrEqual(4);
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });
});
