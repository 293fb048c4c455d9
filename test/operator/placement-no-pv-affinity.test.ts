import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, observeRuns, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("backup Jobs follow the app pod, not the PV", () => {
  test("PVs without node affinity, mounted by app pods pinned to one node: every Job's pod lands on that node", async () => {
    const namespace = await cluster.freshNamespace("placement-free");
    const node = cluster.nodes[1]!;
    // Six volumes: were the Jobs placed by the scheduler alone (no affinity of theirs, none of the
    // PVs'), all six landing on this node would be a 1-in-729 chance, and the app pods there make
    // the other nodes the scheduler's favourites.
    const pvcs = ["a", "b", "c", "d", "e", "f"].map((letter) => `data-${letter}`);
    for (const pvc of pvcs) {
      const volume = await cluster.createBoundPvc(namespace, pvc);
      const pv = await cluster.core.readPersistentVolume({ name: volume.pvName });
      expect(pv.spec?.nodeAffinity).toBeUndefined();
      const app = await createAppPod(cluster, namespace, `app-${pvc}`, [pvc], { node });
      expect(app.spec?.nodeName).toBe(node);
    }

    const observed = await observeRuns(cluster, [namespace]);
    const run = await runOperator(cluster, [namespace], ["--concurrency", "6", "--volumes-per-job", "1"]); // six Jobs, each placed on its own
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    expect(Object.fromEntries(pvcs.map((pvc) => [pvc, observed.nodeOfPvc(namespace, pvc)]))).toEqual(Object.fromEntries(pvcs.map((pvc) => [pvc, node])));
  });
});
