/**
 * One real Kubernetes API server per test run (kwok nodes; real etcd, apiserver, scheduler and
 * controllers), started lazily by the first `sharedCluster()` and stopped by the cleanups.
 *
 * Pods run on kwok nodes: they get Ready without containers. How a pod ends is decided by the test:
 * see `outcomeAnnotations`, `freshNamespace(prefix, { jobPods })`, `completePod` and
 * test/tools/kwok/pod-stages.yaml. `pods/exec` runs the command on this host (test/tools/kwok/exec.yaml).
 */
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1PersistentVolume,
  type V1Pod,
  type V1Taint,
} from "@kubernetes/client-node";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  componentLogs,
  killControlPlane,
  reapStaleClusters,
  recordOwner,
  startControlPlane,
  startWatchdog,
  stopControlPlane,
  stopApiServer,
  stoppedComponent,
  stopWatchdog,
} from "./cluster-kwok.ts";
import { type ExecResult, execInPod, type PodExecRule, setPodExec } from "./cluster-exec.ts";
import { hostnameOf, NODE_NAMES, populateCluster, STORAGE_CLASS, TAINT, TAINTED_NODE } from "./cluster-nodes.ts";
import { onCleanup, waitFor } from "./processes.ts";

export { hostnameOf, NODE_NAMES, STORAGE_CLASS, TAINT, TAINTED_NODE };
export type { ExecResult, PodExecRule };

export const OUTCOME_ANNOTATION = "kopia-k8s.test/outcome";
export const EXIT_CODE_ANNOTATION = "kopia-k8s.test/exit-code";
export const MESSAGE_ANNOTATION = "kopia-k8s.test/termination-message";
export const RUN_DURATION_ANNOTATION = "kopia-k8s.test/run-duration";

/** succeed/fail: runs, then ends. hang: keeps running. pending: scheduled, never starts.
 * image-error: stays Pending, its containers waiting in ErrImagePull. */
export type PodOutcome = "succeed" | "fail" | "hang" | "pending" | "image-error";

export interface OutcomeOptions {
  /** Exit code of every container when the outcome is "fail" (default 1). */
  exitCode?: number;
  /** state.terminated.message of every container. */
  message?: string;
  /** How long the pod runs before it ends, as a Go duration ("1500ms", "2s"). Default: at once. */
  runFor?: string;
}

/** Annotations for a pod (template) that decide how the pod ends. */
export function outcomeAnnotations(outcome: PodOutcome, options: OutcomeOptions = {}): Record<string, string> {
  const annotations: Record<string, string> = { [OUTCOME_ANNOTATION]: outcome };
  if (options.exitCode !== undefined) annotations[EXIT_CODE_ANNOTATION] = String(options.exitCode);
  if (options.message !== undefined) annotations[MESSAGE_ANNOTATION] = options.message;
  if (options.runFor !== undefined) annotations[RUN_DURATION_ANNOTATION] = options.runFor;
  return annotations;
}

export interface BoundPvc {
  namespace: string;
  name: string;
  pvName: string;
  /** The PV's folder on this host (a hostPath volume): put the files a backup should see here. */
  hostPath: string;
}

export interface PvcOptions {
  /** Pins the PV (and so every pod using the claim) to this node. */
  node?: string;
  accessModes?: string[];
  /** Default "1Gi". */
  size?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Only the PV, reserved for the claim: something else creates the claim (a generic ephemeral volume's controller). */
  claimMadeElsewhere?: boolean;
}

export interface TestCluster {
  kubeconfigPath: string;
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  /** The untainted nodes (kk-node-0..2), labelled kubernetes.io/hostname=<name>. */
  nodes: string[];
  /** A node with `taint`: only pods tolerating it land there. Its kubernetes.io/hostname label is not its name. */
  taintedNode: string;
  taint: V1Taint;
  /** Default storage class; PVs are made by createBoundPvc. */
  storageClass: string;
  /**
   * A new namespace (deleted at cleanup), with its default ServiceAccount in place.
   * `jobPods` sets the outcome of the pods of Jobs in it that carry no outcome annotation (the name
   * gets a suffix such as "--hang", which kwok's stages read): "hang" lets a test end each pod later
   * with completePod, whatever pod template the product wrote.
   */
  freshNamespace(prefix: string, options?: { jobPods?: PodOutcome }): Promise<string>;
  /** A PV on a fresh host folder, and a PVC bound to it by the real PV controller. */
  createBoundPvc(namespace: string, name: string, options?: PvcOptions): Promise<BoundPvc>;
  /** Ends a running (or pending) pod the way a kubelet would report it: exit 0 → Succeeded, else Failed. */
  completePod(namespace: string, podName: string, result?: { exitCode?: number; message?: string }): Promise<void>;
  /** The pods the job controller made for a Job. */
  podsOfJob(namespace: string, jobName: string): Promise<V1Pod[]>;
  /** pods/exec through the API server (the command runs on this host). Container: the pod's first. */
  exec(namespace: string, pod: string, command: string[], container?: string): Promise<ExecResult>;
  /** Gives one pod its own exec working folder and environment; applied when this returns. */
  setPodExec(namespace: string, pod: string, rule: PodExecRule): Promise<void>;
  /** Kills kube-apiserver (as a crash would); call the returned function to start it again and wait until it serves. */
  stopApiServer(): () => Promise<void>;
}

const WORKDIR_PREFIX = "kk-cluster-";
let current: Promise<TestCluster> | undefined;

/** The cluster of this test process: the first call starts it, later calls reuse it (restarted if cleanups stopped it). */
export function sharedCluster(): Promise<TestCluster> {
  current ??= startSharedCluster()
    .catch((error: Error) => {
      console.error(`starting the test cluster failed; trying once more. ${error.message}`);
      return startSharedCluster();
    })
    .catch((error) => {
      current = undefined;
      throw error;
    });
  return current;
}

async function startSharedCluster(): Promise<TestCluster> {
  await reapStaleClusters(tmpdir(), WORKDIR_PREFIX);
  const workdir = mkdtempSync(join(tmpdir(), WORKDIR_PREFIX));
  recordOwner(workdir);
  const watchdog = startWatchdog(workdir);
  let started = false;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (started) current = undefined; // the next sharedCluster() starts a new one
    // Killed synchronously: on SIGINT/SIGTERM the process exits right after cleanups are started,
    // and the watchdog then removes the folder.
    killControlPlane(workdir);
    await stopControlPlane(workdir);
    stopWatchdog(watchdog);
  };
  onCleanup(stop);
  try {
    const kubeconfigPath = await startControlPlane(workdir);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    await populateCluster(kc, () => stoppedComponent(workdir));
    started = true;
    return testCluster(workdir, kubeconfigPath, kc, () => stopped);
  } catch (error) {
    const logs = componentLogs(workdir);
    await stop();
    throw new Error(`${(error as Error).message}\n${logs}`);
  }
}

function dnsLabel(text: string, maxLength: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, maxLength)
    .replace(/^-+|-+$/g, "");
}

function testCluster(workdir: string, kubeconfigPath: string, kc: KubeConfig, isStopped: () => boolean): TestCluster {
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const namespaceLabel = "kopia-k8s.test/namespace";

  async function freshNamespace(prefix: string, options: { jobPods?: PodOutcome } = {}): Promise<string> {
    const suffix = options.jobPods && options.jobPods !== "succeed" ? `--${options.jobPods}` : "";
    const random = Math.random().toString(36).slice(2, 8);
    const name = `${dnsLabel(prefix, 63 - random.length - suffix.length - 1) || "test"}-${random}${suffix}`;
    await core.createNamespace({ body: { metadata: { name } } });
    onCleanup(async () => {
      if (isStopped()) return;
      await core.deleteNamespace({ name }).catch(() => {});
      await core.deleteCollectionPersistentVolume({ labelSelector: `${namespaceLabel}=${name}` }).catch(() => {});
    });
    // Pods are refused until the ServiceAccount controller has made "default".
    await waitFor(`ServiceAccount default in ${name}`, async () => Boolean(await core.readNamespacedServiceAccount({ name: "default", namespace: name })));
    return name;
  }

  async function createBoundPvc(namespace: string, name: string, options: PvcOptions = {}): Promise<BoundPvc> {
    const { node, accessModes = ["ReadWriteOnce"], size = "1Gi" } = options;
    const hostPath = join(workdir, "volumes", namespace, name);
    mkdirSync(hostPath, { recursive: true });
    const pvName = `pv-${namespace}-${name}`.slice(0, 253);
    const pv: V1PersistentVolume = {
      metadata: { name: pvName, labels: { [namespaceLabel]: namespace } },
      spec: {
        capacity: { storage: size },
        accessModes,
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: STORAGE_CLASS,
        hostPath: { path: hostPath, type: "Directory" },
        // Reserved for this claim; the PV controller still does the binding.
        claimRef: { namespace, name },
        ...(node && {
          nodeAffinity: {
            required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [hostnameOf(node)] }] }] },
          },
        }),
      },
    };
    await core.createPersistentVolume({ body: pv });
    if (options.claimMadeElsewhere) return { namespace, name, pvName, hostPath };
    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name, namespace, labels: options.labels, annotations: options.annotations },
        spec: { accessModes, storageClassName: STORAGE_CLASS, resources: { requests: { storage: size } } },
      },
    });
    await waitFor(`PVC ${namespace}/${name} to be Bound`, async () => {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ name, namespace });
      return pvc.status?.phase === "Bound";
    });
    return { namespace, name, pvName, hostPath };
  }

  async function completePod(namespace: string, podName: string, result: { exitCode?: number; message?: string } = {}): Promise<void> {
    const { exitCode = 0, message } = result;
    const pod = await core.readNamespacedPod({ name: podName, namespace });
    const now = new Date().toISOString();
    const containerStatuses = pod.spec!.containers.map((container) => {
      const running = pod.status?.containerStatuses?.find((s) => s.name === container.name)?.state?.running;
      return {
        name: container.name,
        image: container.image,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", message, startedAt: running?.startedAt ?? now, finishedAt: now },
        },
      };
    });
    await core.patchNamespacedPodStatus(
      { name: podName, namespace, body: { status: { phase: exitCode === 0 ? "Succeeded" : "Failed", containerStatuses } } },
      mergePatch,
    );
  }

  async function podsOfJob(namespace: string, jobName: string): Promise<V1Pod[]> {
    return (await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${jobName}` })).items;
  }

  async function firstContainer(namespace: string, pod: string): Promise<string> {
    return (await core.readNamespacedPod({ name: pod, namespace })).spec!.containers[0]!.name;
  }

  return {
    kubeconfigPath,
    kc,
    core,
    batch,
    nodes: [...NODE_NAMES],
    taintedNode: TAINTED_NODE,
    taint: TAINT,
    storageClass: STORAGE_CLASS,
    freshNamespace,
    createBoundPvc,
    completePod,
    podsOfJob,
    exec: async (namespace, pod, command, container) => execInPod(kc, namespace, pod, container ?? (await firstContainer(namespace, pod)), command),
    setPodExec: async (namespace, pod, rule) => setPodExec(kc, namespace, pod, await firstContainer(namespace, pod), rule),
    stopApiServer: () => stopApiServer(workdir, async () => Boolean(await core.listNamespace({ limit: 1 }))),
  };
}
