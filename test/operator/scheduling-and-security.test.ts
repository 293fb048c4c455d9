import { beforeAll, describe, expect, test } from "bun:test";
import type { V1Taint } from "@kubernetes/client-node";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, observeRuns, operatorEnv, waitForRunning } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

/**
 * operator-backup with an object-store repository: nothing runs these Jobs' kopia on kwok, and the
 * URL keeps hostPath volumes (beyond Pod Security's baseline) out of the pods.
 */
const runOperator = (cluster: TestCluster, namespaces: string[], extra: string[] = []) =>
  runScript("operator-backup", [...namespaces.flatMap((namespace) => ["--namespace", namespace]), "--repository", "s3://bucket?endpoint=127.0.0.1:1&insecure=true", ...extra], operatorEnv(cluster));

async function setTaints(name: string, taints: V1Taint[]): Promise<void> {
  const node = await cluster.core.readNode({ name });
  await cluster.core.replaceNode({ name, body: { ...node, spec: { ...node.spec, taints } } });
}

async function setUnschedulable(name: string, unschedulable: boolean): Promise<void> {
  const node = await cluster.core.readNode({ name });
  await cluster.core.replaceNode({ name, body: { ...node, spec: { ...node.spec, unschedulable } } });
}

describe("13 where Jobs may run: cordoned and tainted nodes", () => {
  test("a cordoned node still runs the app, and its volume's pinned Job runs there too", async () => {
    const node = cluster.nodes[2]!;
    const namespace = await cluster.freshNamespace("cordoned");
    await cluster.createBoundPvc(namespace, "data", { node });
    await createAppPod(cluster, namespace, "app", ["data"]);
    await setUnschedulable(node, true);
    try {
      const observed = await observeRuns(cluster, [namespace]);
      const run = await runOperator(cluster, [namespace], ["--no-maintenance", "--pending-timeout", "20s"]);
      observed.stop();
      expect(run.exitCode, run.output).toBe(0);
      expect(observed.nodeOfPvc(namespace, "data")).toBe(node);
    } finally {
      await setUnschedulable(node, false);
    }
  });

  test("a pinned Job whose node got a NoSchedule taint after the app started fails with the scheduler's reason well before --pending-timeout", async () => {
    const node = cluster.nodes[1]!;
    const namespace = await cluster.freshNamespace("tainted");
    await cluster.createBoundPvc(namespace, "data", { node });
    await createAppPod(cluster, namespace, "app", ["data"]);
    const before = (await cluster.core.readNode({ name: node })).spec?.taints ?? [];
    await setTaints(node, [...before, { key: "kopia-k8s.test/maintenance", value: "now", effect: "NoSchedule" }]);
    try {
      const started = Date.now();
      const run = await runOperator(cluster, [namespace], ["--no-maintenance", "--pending-timeout", "30s"]);
      const seconds = (Date.now() - started) / 1000;
      expect(run.exitCode, run.output).toBe(7);
      expect(run.output).toMatch(/failed on .*: pod cannot start: Unschedulable on its pinned node: .*untolerated taint/);
      expect(seconds).toBeLessThan(28); // the stuck check at half the pending timeout, not the timeout
      expect(await jobsIn(cluster, namespace)).toEqual([]);
    } finally {
      await setTaints(node, before);
    }
  });
});

describe("10 Pod Security: backups pass baseline, init and maintenance pass restricted", () => {
  test("an app namespace enforcing baseline and a maintenance namespace enforcing restricted: every Job is admitted and the run succeeds", async () => {
    const apps = await cluster.freshNamespace("baseline");
    const maintenance = await cluster.freshNamespace("restricted");
    const label = async (namespace: string, level: string) => {
      const current = await cluster.core.readNamespace({ name: namespace });
      await cluster.core.replaceNamespace({ name: namespace, body: { ...current, metadata: { ...current.metadata, labels: { ...current.metadata?.labels, "pod-security.kubernetes.io/enforce": level } } } });
    };
    await label(apps, "baseline");
    await label(maintenance, "restricted");
    await cluster.createBoundPvc(apps, "data");
    const run = await runOperator(cluster, [apps], ["--maintenance-namespace", maintenance, "--pending-timeout", "20s"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).not.toContain("violates PodSecurity");
  });
});

describe("10 a Job whose pod the API refuses", () => {
  test("Pod Security (restricted) refuses the backup pod: reported with the admission's own words well before --pending-timeout", async () => {
    const restricted = await cluster.freshNamespace("refused-psa");
    const current = await cluster.core.readNamespace({ name: restricted });
    await cluster.core.replaceNamespace({ name: restricted, body: { ...current, metadata: { ...current.metadata, labels: { ...current.metadata?.labels, "pod-security.kubernetes.io/enforce": "restricted" } } } });
    await cluster.createBoundPvc(restricted, "data");
    const started = Date.now();
    const run = await runOperator(cluster, [restricted], ["--no-maintenance", "--pending-timeout", "30s"]);
    expect(run.exitCode, run.output).toBe(7);
    expect((Date.now() - started) / 1000).toBeLessThan(28); // the stuck check at half the pending timeout
    expect(run.output).toMatch(new RegExp(`${restricted}/data failed on .*: pod cannot start: FailedCreate: .*violates PodSecurity "restricted:latest"`));
  });
});

describe("5 generic ephemeral volumes", () => {
  test("the PVC <pod>-<volume> is its pod's: the Job is pinned to the pod's node and the pod's post hook runs after the backup", async () => {
    const namespace = await cluster.freshNamespace("ephemeral");
    const node = cluster.nodes[0]!;
    await cluster.createBoundPvc(namespace, "cache-0-scratch", { node, claimMadeElsewhere: true });
    const marker = `${await tempDir()}/post`;
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "cache-0", namespace, annotations: { "kopia-k8s.io/post-backup": `echo thawed; touch ${marker}` } },
        spec: {
          containers: [{ name: "app", image: "app:1" }],
          volumes: [{ name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], storageClassName: cluster.storageClass, resources: { requests: { storage: "1Gi" } } } } } }],
        },
      },
    });
    await waitForRunning(cluster, namespace, "cache-0");
    const dryRun = await runOperator(cluster, [namespace], ["--dry-run"]);
    expect(dryRun.stdout).toContain(`would back up ${namespace}/cache-0-scratch on node ${node} (mounted by cache-0)`);

    const run = await runOperator(cluster, [namespace], ["--no-maintenance", "--log-format", "json", "--job-annotation", "kopia-k8s.test/run-duration=1500ms"]);
    expect(run.exitCode, run.output).toBe(0);
    const messages = run.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { msg: string }).msg);
    const done = messages.findIndex((message) => message.startsWith("1 of 1 done"));
    const post = messages.findIndex((message) => message.startsWith("post-backup hook:"));
    expect(done).toBeGreaterThanOrEqual(0);
    expect(post).toBeGreaterThan(done);
    expect(await Bun.file(marker).exists()).toBe(true);
  });
});
