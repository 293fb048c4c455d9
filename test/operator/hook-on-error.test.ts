import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, runOperatorObserved } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

/** Two apps in their own namespaces, each with one volume; their hooks as given, post hooks leave a marker. */
async function twoApps(brokenPre: Record<string, string>) {
  const markers = await tempDir();
  const broken = await cluster.freshNamespace("broken-hook");
  const healthy = await cluster.freshNamespace("healthy-hook");
  for (const namespace of [broken, healthy]) await cluster.createBoundPvc(namespace, "data");
  await createAppPod(cluster, broken, "app", ["data"], { annotations: { ...brokenPre, "kopia-k8s.io/post-backup": `touch ${markers}/broken-thawed` } });
  await createAppPod(cluster, healthy, "app", ["data"], { annotations: { "kopia-k8s.io/pre-backup": "echo frozen", "kopia-k8s.io/post-backup": `touch ${markers}/healthy-thawed` } });
  return { broken, healthy, markers };
}

describe("8 a tenant's failing hook need not stop everyone's backups", () => {
  for (const [how, annotation, flags] of [
    ["--hook-on-error continue", {}, ["--hook-on-error", "continue"]],
    ["the pod's own <key>-on-error: continue", { "kopia-k8s.io/pre-backup-on-error": "continue" }, []],
  ] as const) {
    test(`${how}: the failing pod's volume is not started (exit 7), it is thawed, the other app is backed up`, async () => {
      const { broken, healthy, markers } = await twoApps({ "kopia-k8s.io/pre-backup": "echo cannot lock >&2; exit 3", ...annotation });
      const { run, jobsCreated } = await runOperatorObserved(cluster, [broken, healthy], [...flags]);
      expect(run.exitCode, run.output).toBe(7);
      expect(run.stderr).toContain(`hook in pod ${broken}/app, container app: exited with code 3 (cannot lock); going on without the volumes of ${broken}/app (on error: continue)`);
      expect(run.stdout).toMatch(new RegExp(`${broken}\\s+data\\s+\\S+\\s+not-started`));
      expect(run.stdout).toMatch(new RegExp(`${healthy}\\s+data\\s+\\S+\\s+success`));
      expect(run.stderr).toContain(`${broken}/data: not started: the pre-backup hook of pod ${broken}/app failed (on error: continue)`);
      expect(jobsCreated).toBe(1);
      expect(await Bun.file(`${markers}/broken-thawed`).exists()).toBe(true);
      expect(await Bun.file(`${markers}/healthy-thawed`).exists()).toBe(true);
    });
  }

  test("7 an annotation that cannot be read is that pod's hook failure: with continue, the others are backed up", async () => {
    const { broken, healthy } = await twoApps({ "kopia-k8s.io/pre-backup": "true", "kopia-k8s.io/pre-backup-timeout": "300" });
    const { run } = await runOperatorObserved(cluster, [broken, healthy], ["--hook-on-error", "continue"]);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.stderr).toContain(`annotation kopia-k8s.io/pre-backup-timeout: '300' is not a duration`);
    expect(run.stdout).toMatch(new RegExp(`${healthy}\\s+data\\s+\\S+\\s+success`));
  });

  test("7 a pod that is shutting down gets no hooks; its volume is still backed up on its node", async () => {
    const markers = await tempDir();
    const namespace = await cluster.freshNamespace("terminating");
    await cluster.createBoundPvc(namespace, "data", { node: cluster.nodes[1]! });
    const hold = "kopia-k8s.test/hold";
    await createAppPod(cluster, namespace, "leaving", ["data"], { annotations: { "kopia-k8s.io/pre-backup": `touch ${markers}/frozen`, "kopia-k8s.io/post-backup": `touch ${markers}/thawed` } });
    const pod = await cluster.core.readNamespacedPod({ name: "leaving", namespace });
    await cluster.core.replaceNamespacedPod({ name: "leaving", namespace, body: { ...pod, metadata: { ...pod.metadata, finalizers: [hold] } } });
    await cluster.core.deleteNamespacedPod({ name: "leaving", namespace, gracePeriodSeconds: 300 });
    try {
      const leaving = await cluster.core.readNamespacedPod({ name: "leaving", namespace });
      expect(leaving.metadata?.deletionTimestamp).toBeDefined();
      expect(leaving.status?.phase).toBe("Running");
      const { run, jobsCreated } = await runOperatorObserved(cluster, [namespace]);
      expect(run.exitCode, run.output).toBe(0);
      expect(jobsCreated).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+data\\s+${cluster.nodes[1]}\\s+success`));
      expect(await Bun.file(`${markers}/frozen`).exists()).toBe(false);
      expect(await Bun.file(`${markers}/thawed`).exists()).toBe(false);
    } finally {
      const leaving = await cluster.core.readNamespacedPod({ name: "leaving", namespace });
      await cluster.core.replaceNamespacedPod({ name: "leaving", namespace, body: { ...leaving, metadata: { ...leaving.metadata, finalizers: [] } } });
    }
  });

  test("the default stays abort (the original's behaviour): exit 6, no Job", async () => {
    const { broken, healthy } = await twoApps({ "kopia-k8s.io/pre-backup": "exit 3" });
    const { run, jobsCreated } = await runOperatorObserved(cluster, [broken, healthy]);
    expect(run.exitCode, run.output).toBe(6);
    expect(jobsCreated).toBe(0);
  });
});
