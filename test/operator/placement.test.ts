import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, observeRuns, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("backup Jobs run on the node of the pod that mounts the RWO volume", () => {
  test("look-alike apps on different nodes, an app without labels, and an app on a tainted node", async () => {
    const namespace = await cluster.freshNamespace("placement");
    const [nodeA, nodeB, nodeC] = cluster.nodes as [string, string, string];
    // Two replicas of "the same" app (identical labels), each with its own RWO volume on its own node.
    await cluster.createBoundPvc(namespace, "data-a", { node: nodeA });
    await cluster.createBoundPvc(namespace, "data-b", { node: nodeB });
    const podA = await createAppPod(cluster, namespace, "web-a", ["data-a"], { labels: { app: "web" } });
    const podB = await createAppPod(cluster, namespace, "web-b", ["data-b"], { labels: { app: "web" } });
    expect([podA.spec!.nodeName, podB.spec!.nodeName]).toEqual([nodeA, nodeB]);
    await cluster.createBoundPvc(namespace, "data-plain", { node: nodeC });
    await createAppPod(cluster, namespace, "no-labels", ["data-plain"]);
    await cluster.createBoundPvc(namespace, "data-tainted", { node: cluster.taintedNode });
    const tainted = await createAppPod(cluster, namespace, "on-tainted", ["data-tainted"], { tolerateTaint: true });
    expect(tainted.spec!.nodeName).toBe(cluster.taintedNode);

    const observed = await observeRuns(cluster, [namespace]);
    // A Job placed on a node it cannot reach stays Pending: fail in a minute, not after the default 15.
    const run = await runOperator(cluster, [namespace], ["--pending-timeout", "60s"]);
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    expect(observed.nodeOfPvc(namespace, "data-a")).toBe(nodeA);
    expect(observed.nodeOfPvc(namespace, "data-b")).toBe(nodeB);
    expect(observed.nodeOfPvc(namespace, "data-plain")).toBe(nodeC);
    expect(observed.nodeOfPvc(namespace, "data-tainted")).toBe(cluster.taintedNode);
    for (const job of observed.jobs.values()) {
      expect(job.spec!.template.spec!.affinity?.podAffinity).toBeUndefined();
    }
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+data-a\\s+${nodeA}\\s+success`));
  });
});
