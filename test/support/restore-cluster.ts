/** What operator-restore's cluster tests set up: backed-up volumes, PVs waiting for a restore's claim, an app as a Deployment. */
import { AppsV1Api, StorageV1Api, type V1PersistentVolume } from "@kubernetes/client-node";
import { join } from "node:path";
import { hostnameOf, STORAGE_CLASS, type TestCluster } from "./cluster.ts";
import { makeCorpus } from "./corpus.ts";
import { runOperatorWithHostJobs } from "./job-runner.ts";
import { rawKopia } from "./kopia.ts";
import { onCleanup, tempDir, waitFor } from "./processes.ts";

/** A fresh filesystem repository holding one operator-backup run of `namespace`; checked with a fresh kopia cache. */
export async function backedUpNamespace(cluster: TestCluster, namespace: string) {
  const repo = join(await tempDir("kk-restore-repo-"), "repo");
  const { run } = await runOperatorWithHostJobs(cluster, namespace, ["--repository", `filesystem://${repo}`, "--no-maintenance"]);
  if (run.exitCode !== 0) throw new Error(`the backup failed: ${run.output}`);
  const kopia = await rawKopia(["filesystem", "--path", repo]);
  return { repository: `filesystem://${repo}`, kopia };
}

/** A bound PVC in `namespace` with a small corpus in its PV's folder. */
export async function volumeWithFiles(cluster: TestCluster, namespace: string, pvc: string, options: { size?: string; node?: string } = {}) {
  const volume = await cluster.createBoundPvc(namespace, pvc, options);
  await makeCorpus(volume.hostPath, { largeFileMiB: 2 });
  return volume;
}

/**
 * A PV on a fresh host folder for a claim a restore will create: reserved for it by claimRef, or,
 * with `free`, for any claim of its class (a WaitForFirstConsumer class binds it when the first pod
 * is scheduled, within its node affinity). Deleted at cleanup.
 */
export async function volumeForRestore(cluster: TestCluster, options: { namespace: string; pvc: string; size?: string; storageClass?: string; node?: string; free?: boolean }): Promise<{ pvName: string; hostPath: string }> {
  const hostPath = await tempDir("kk-restore-pv-");
  const pvName = `restore-${options.namespace}-${options.pvc}`.slice(0, 253);
  const pv: V1PersistentVolume = {
    metadata: { name: pvName },
    spec: {
      capacity: { storage: options.size ?? "1Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: options.storageClass ?? STORAGE_CLASS,
      hostPath: { path: hostPath, type: "Directory" },
      ...(options.free ? {} : { claimRef: { namespace: options.namespace, name: options.pvc } }),
      ...(options.node ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [hostnameOf(options.node)] }] }] } } } : {}),
    },
  };
  await cluster.core.createPersistentVolume({ body: pv });
  onCleanup(() => cluster.core.deletePersistentVolume({ name: pvName }).then(() => {}, () => {}));
  return { pvName, hostPath };
}

/** A WaitForFirstConsumer storage class of its own (no provisioner: PVs are made by the test). */
export async function waitForFirstConsumerClass(cluster: TestCluster): Promise<string> {
  const name = `kk-wffc-${Math.random().toString(36).slice(2, 8)}`;
  const storage = cluster.kc.makeApiClient(StorageV1Api);
  await storage.createStorageClass({ body: { metadata: { name }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "WaitForFirstConsumer", reclaimPolicy: "Retain" } });
  onCleanup(() => storage.deleteStorageClass({ name }).then(() => {}, () => {}));
  return name;
}

/** A Deployment (or a StatefulSet) of `replicas` pods that mount the PVC; resolves once they run. */
export async function deploymentMounting(cluster: TestCluster, namespace: string, name: string, pvc: string, replicas = 1, kind: "Deployment" | "StatefulSet" = "Deployment") {
  const apps = cluster.kc.makeApiClient(AppsV1Api);
  const labels = { app: name };
  const spec = { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "app:1" }], volumes: [{ name: "data", persistentVolumeClaim: { claimName: pvc } }] } } };
  if (kind === "Deployment") await apps.createNamespacedDeployment({ namespace, body: { metadata: { name, namespace }, spec } });
  else await apps.createNamespacedStatefulSet({ namespace, body: { metadata: { name, namespace }, spec: { ...spec, serviceName: name } } });
  await waitFor(`${replicas} running pods of ${kind} ${namespace}/${name}`, async () => (await runningPods(cluster, namespace, labels)).length === replicas);
  return {
    apps,
    read: () => (kind === "Deployment" ? apps.readNamespacedDeployment({ namespace, name }) : apps.readNamespacedStatefulSet({ namespace, name })),
    runningPods: () => runningPods(cluster, namespace, labels),
  };
}

async function runningPods(cluster: TestCluster, namespace: string, labels: Record<string, string>) {
  const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(",") });
  return pods.items.filter((pod) => pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp);
}

/** Deletes a namespace a test did not make with freshNamespace (operator-restore made it) at cleanup. */
export function deleteAtCleanup(cluster: TestCluster, namespace: string): void {
  onCleanup(() => cluster.core.deleteNamespace({ name: namespace }).then(() => {}, () => {}));
}

/** Deletes a namespace and waits until it is gone (its PVCs with it), as in a lost cluster. */
export async function deleteNamespaceAndWait(cluster: TestCluster, namespace: string): Promise<void> {
  await cluster.core.deleteNamespace({ name: namespace });
  await waitFor(`namespace ${namespace} to be gone`, async () => !(await cluster.core.readNamespace({ name: namespace }).then(() => true, () => false)), 120_000);
}
