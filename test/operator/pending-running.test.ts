import { beforeAll, describe, expect, test } from "bun:test";
import { RUN_DURATION_ANNOTATION, sharedCluster, type TestCluster } from "../support/cluster.ts";
import { observeRuns, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("--pending-timeout applies to Pending pods only", () => {
  test("backups still running at --pending-timeout are left to finish: the run succeeds, no Job is deleted early", async () => {
    const namespace = await cluster.freshNamespace("long-running");
    await cluster.createBoundPvc(namespace, "data-a");
    await cluster.createBoundPvc(namespace, "data-b");
    const observed = await observeRuns(cluster, [namespace]);
    // The pods start at once and run for 3 s, past the 2 s pending timeout.
    const run = await runOperator(cluster, [namespace], ["--pending-timeout", "2s", "--job-annotation", `${RUN_DURATION_ANNOTATION}=3s`]);
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).not.toContain("stayed Pending");
    expect(run.stdout).toMatch(/2 of 2 done: .*\/data-\w success/);
    // Each Job's last state the watch saw, its deletion included, is Complete: none was deleted while running.
    expect(observed.jobs.size).toBe(2);
    for (const job of observed.jobs.values()) {
      expect(job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True"), job.metadata?.name).toBe(true);
    }
  });
});
