import type { V1Pod } from "@kubernetes/client-node";
import { join } from "node:path";
import type { TestCluster } from "./cluster.ts";
import { tempDir } from "./processes.ts";
import { runScript, type ScriptName, type ScriptRun } from "./scripts.ts";

/** On a Job (and so its pods): kwok keeps the pod running until the runner below ends it. */
export const HOST_RUN_ANNOTATION = "kopia-k8s.test/outcome=hang";

export interface HostRun {
  namespace: string;
  pod: string;
  role: string;
  command: ScriptName;
  args: string[];
  startedAt: number;
  endedAt: number;
  result: ScriptRun;
  /** What the pod reported as its termination message (kopia-backup's summary, or the log's tail). */
  terminationMessage: string;
}

/** A kubelet keeps this much of a failed container's log as its termination message. */
const LOG_TAIL_BYTES = 2048;

/**
 * Plays the kubelet for the kwok pods of kopia-k8s Jobs created with HOST_RUN_ANNOTATION: runs
 * each pod's container (the real kopia-backup or kopia-maintenance, from source) on this host, with
 * the pod's env and Secret, its PVC as the PV's host folder and a state folder of its own (an
 * emptyDir), then ends the pod with the exit code and termination message a kubelet would report.
 * Pods run as they appear, side by side, as on separate nodes.
 */
export function runJobPodsOnHost(cluster: TestCluster, runId: string) {
  const runs: HostRun[] = [];
  const started = new Set<string>();
  const pending: Promise<void>[] = [];
  let stopped = false;

  const runPod = async (pod: V1Pod) => {
    const namespace = pod.metadata!.namespace!;
    const container = pod.spec!.containers[0]!;
    const command = container.command![0] as ScriptName;
    const state = await tempDir("kk-pod-");
    const env: Record<string, string> = { HOME: state };
    for (const variable of container.env ?? []) env[variable.name] = variable.value ?? "";
    for (const [key, value] of Object.entries(await secretData(cluster, namespace, container.envFrom![0]!.secretRef!.name!))) env[key] = value;
    for (const key of ["KK_CONFIG_PATH", "KK_KOPIA_CACHE_PATH", "KK_KOPIA_LOG_PATH"]) env[key] = join(state, key);
    const summaryFile = join(state, "termination-log");
    const dataPath = await dataVolumePath(cluster, pod);
    const args = (container.args ?? []).map((arg, index, all) => (all[index - 1] === "--path" ? dataPath! : all[index - 1] === "--summary-file" ? summaryFile : arg));
    // The Job records its source as mounted in the pod, /data; here the folder is the PV's.
    if (dataPath) args.push("--source-path", "/data");

    const startedAt = Date.now();
    const result = await runScript(command, args, env);
    const summary = await Bun.file(summaryFile).text().catch(() => "");
    const message = summary || (result.exitCode !== 0 ? Buffer.from(result.output).subarray(-LOG_TAIL_BYTES).toString() : "");
    runs.push({ namespace, pod: pod.metadata!.name!, role: pod.metadata!.labels!["kopia-k8s.io/role"]!, command, args, startedAt, endedAt: Date.now(), result, terminationMessage: message });
    await cluster.completePod(namespace, pod.metadata!.name!, { exitCode: result.exitCode, message });
  };

  const poll = async () => {
    while (!stopped) {
      const pods = await cluster.core.listPodForAllNamespaces({ labelSelector: `kopia-k8s.io/run-id=${runId}` }).catch(() => undefined);
      for (const pod of pods?.items ?? []) {
        const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
        if (pod.status?.phase !== "Running" || started.has(key)) continue;
        started.add(key);
        pending.push(runPod(pod));
      }
      await Bun.sleep(100);
    }
  };
  const polling = poll();

  return {
    runs,
    /** Stops looking for pods; waits for the pods already running. */
    async stop(): Promise<HostRun[]> {
      stopped = true;
      await polling;
      await Promise.all(pending);
      return runs;
    },
  };
}

async function secretData(cluster: TestCluster, namespace: string, name: string): Promise<Record<string, string>> {
  for (let waited = 0; waited < 100; waited++) {
    const secret = await cluster.core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
    if (secret) return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]));
    await Bun.sleep(100);
  }
  throw new Error(`Secret ${namespace}/${name} never appeared`);
}

/** The host folder of the PV behind the pod's "data" volume, if it has one. */
async function dataVolumePath(cluster: TestCluster, pod: V1Pod): Promise<string | undefined> {
  const claimName = pod.spec!.volumes?.find((volume) => volume.name === "data")?.persistentVolumeClaim?.claimName;
  if (!claimName) return undefined;
  const claim = await cluster.core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace: pod.metadata!.namespace! });
  const volume = await cluster.core.readPersistentVolume({ name: claim.spec!.volumeName! });
  return volume.spec!.hostPath!.path;
}
