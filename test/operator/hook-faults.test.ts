import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

describe("post-backup hooks under faults", () => {
  test("a pod mounting one claim through two volumes gets its post-backup hook only after its other claim is backed up too", async () => {
    const namespace = await cluster.freshNamespace("two-mounts");
    await cluster.createBoundPvc(namespace, "data");
    await cluster.createBoundPvc(namespace, "logs");
    await createAppPod(cluster, namespace, "app", ["data", "data", "logs"], { annotations: { "kopia-k8s.io/post-backup": "echo resuming writes" } });
    // One Job at a time, in PVC order (data, then logs), each running a while.
    const run = await runOperator(cluster, [namespace], ["--concurrency", "1", "--log-format", "json", "--job-annotation", "kopia-k8s.test/run-duration=1500ms"]);
    expect(run.exitCode, run.output).toBe(0);
    const hookAt = run.stdout.indexOf(`[${namespace}/app] resuming writes`);
    expect(hookAt).toBeGreaterThan(-1);
    expect(run.stdout.indexOf("2 of 2 done")).toBeGreaterThan(-1);
    expect(run.stdout.indexOf("2 of 2 done")).toBeLessThan(hookAt);
  });
});
