import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { jobsIn, observeRuns, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const MANAGED = "app.kubernetes.io/managed-by=kopia-k8s";

/** What kopia-k8s made in a namespace: Jobs, pods and Secrets, as kind/name. */
async function leftIn(namespace: string): Promise<string[]> {
  const [jobs, pods, secrets] = await Promise.all([
    jobsIn(cluster, namespace),
    cluster.core.listNamespacedPod({ namespace, labelSelector: MANAGED }),
    cluster.core.listNamespacedSecret({ namespace, labelSelector: MANAGED }),
  ]);
  return [...jobs.map((job) => `job/${job.metadata!.name}`), ...pods.items.map((pod) => `pod/${pod.metadata!.name}`), ...secrets.items.map((secret) => `secret/${secret.metadata!.name}`)];
}

describe("what a run leaves behind", () => {
  test("a succeeded Job goes with its pod and its Secret; a failed Job keeps its pod for kubectl logs", async () => {
    const good = await cluster.freshNamespace("leaves-nothing");
    const bad = await cluster.freshNamespace("keeps-pod", { jobPods: "fail" });
    for (const namespace of [good, bad]) await cluster.createBoundPvc(namespace, "data");
    const observed = await observeRuns(cluster, [good, bad]);
    const run = await runOperator(cluster, [good, bad]);
    observed.stop();
    expect(run.exitCode, run.output).toBe(7);
    // Each Job had a pod (a Secret's creation is checked elsewhere), so "nothing left" means removed.
    expect(observed.podNodes.size).toBe(2);

    // The garbage collector removes the dependents after the Job: give it a few seconds.
    const deadline = Date.now() + 10_000;
    let left = await leftIn(good);
    while (left.length > 0 && Date.now() < deadline) {
      await Bun.sleep(200);
      left = await leftIn(good);
    }
    expect(left).toEqual([]);

    const [failed] = await jobsIn(cluster, bad);
    expect(failed?.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True")).toBe(true);
    const pods = await cluster.podsOfJob(bad, failed!.metadata!.name!);
    expect(pods.map((pod) => pod.status?.phase)).toEqual(["Failed"]);
    expect(pods[0]!.metadata?.deletionTimestamp).toBeUndefined();
  });
});
