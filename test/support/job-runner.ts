import type { V1Container, V1Pod, V1Secret } from "@kubernetes/client-node";
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestCluster } from "./cluster.ts";
import { TEST_PASSWORD } from "./kopia.ts";
import { repoRoot, tempDir } from "./processes.ts";
import { collect, runScript, scriptCommand, type ScriptName, type ScriptRun } from "./scripts.ts";

/** On a Job (and so its pods): kwok keeps the pod running until the runner below ends it. */
export const HOST_RUN_ANNOTATION = "kopia-k8s.test/outcome=hang";

export interface HostRun {
  namespace: string;
  pod: string;
  role: string;
  command: ScriptName;
  args: string[];
  /** The environment the command got (host paths in place of the pod's mount paths). */
  env: Record<string, string>;
  /** The pod as the runner found it. */
  spec: V1Pod;
  /** Each Secret volume's mount path in the pod, and the folder that stood in for it here. */
  secretMounts: Record<string, string>;
  startedAt: number;
  endedAt: number;
  result: ScriptRun;
  /** What the pod reported as its termination message (kopia-backup's summary, or the log's tail). */
  terminationMessage: string;
}

export interface HostRunOptions {
  /** What the pod's surroundings would give it (e.g. an image's CA file, a cluster-local endpoint). */
  env?: Record<string, string>;
  /** Wraps each command, e.g. to run it where a server's host name resolves. */
  wrap?: (command: string[]) => string[];
}

/** A kubelet keeps this much of a failed container's log as its termination message. */
const LOG_TAIL_BYTES = 2048;

/** A kubelet's secret volume without a mode: world-readable files (0644). */
const SECRET_DEFAULT_MODE = 0o644;
/** What the kubelet adds to a read-only volume's files for the pod's fsGroup (pkg/volume/volume_linux.go). */
const FS_GROUP_READ_MASK = 0o440;

/**
 * Plays the kubelet for the kwok pods of kopia-k8s Jobs created with HOST_RUN_ANNOTATION: runs
 * each pod's container (the real kopia-backup, kopia-maintenance or kopia-restore, from source) on
 * this host, with the pod's env and its Secret's values, its PVCs as their PVs' host folders (kopia-backup's --path and --volumes,
 * --path, kopia-restore's --target), its Secret volumes as
 * folders of files with the modes and group a kubelet gives them (the mount paths in env and args
 * rewritten to those folders) and a state folder of its own (an emptyDir), then ends the pod with
 * the exit code and termination message a kubelet would report.
 * Pods run as they appear, side by side, as on separate nodes.
 */
export function runJobPodsOnHost(cluster: TestCluster, runId: string, options: HostRunOptions = {}) {
  const runs: HostRun[] = [];
  const started = new Set<string>();
  const pending: Promise<void>[] = [];
  let stopped = false;

  const runPod = async (pod: V1Pod) => {
    const namespace = pod.metadata!.namespace!;
    const container = pod.spec!.containers[0]!;
    const command = container.command![0] as ScriptName;
    const state = await tempDir("kk-pod-");
    const secrets = secretReader(cluster, namespace);
    const env: Record<string, string> = { HOME: state, ...options.env, ...(await containerEnv(container, secrets)) };
    for (const key of ["KK_CONFIG_PATH", "KK_KOPIA_CACHE_PATH", "KK_KOPIA_LOG_PATH"]) env[key] = join(state, key);
    const secretMounts = await materialiseSecretVolumes(pod, state, secrets);
    for (const [name, value] of Object.entries(env)) env[name] = atHostPaths(value, secretMounts);
    const summaryFile = join(state, "termination-log");
    const claimMounts = await claimHostPaths(cluster, pod);
    const dataMount = container.volumeMounts?.find((mount) => mount.name === "data")?.mountPath;
    const dataPath = dataMount ? claimMounts[dataMount] : undefined;
    const args = (container.args ?? []).map((arg, index, all) =>
      all[index - 1] === "--path" ? dataPath!
        : all[index - 1] === "--volumes" ? atVolumeHostPaths(arg, claimMounts)
        : all[index - 1] === "--target" && dataPath && dataMount && (arg === dataMount || arg.startsWith(`${dataMount}/`)) ? dataPath + arg.slice(dataMount.length)
        : all[index - 1] === "--summary-file" ? summaryFile
        : atHostPaths(arg, secretMounts),
    );
    // A backup Job records its source as mounted in the pod, /data; here the folder is the PV's.
    if (dataPath && command === "kopia-backup") args.push("--source-path", "/data");

    const startedAt = Date.now();
    const result = await runCommand(command, args, env, options.wrap);
    const summary = await Bun.file(summaryFile).text().catch(() => "");
    const message = summary || (result.exitCode !== 0 ? Buffer.from(result.output).subarray(-LOG_TAIL_BYTES).toString() : "");
    runs.push({
      namespace, pod: pod.metadata!.name!, role: pod.metadata!.labels!["kopia-k8s.io/role"]!, command, args, env, spec: pod, secretMounts,
      startedAt, endedAt: Date.now(), result, terminationMessage: message,
    });
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

/** The script with exactly this environment (plus PATH and TMPDIR), through the wrapper if any. */
async function runCommand(command: ScriptName, args: string[], env: Record<string, string>, wrap = (argv: string[]) => argv): Promise<ScriptRun> {
  const base = { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, ...env };
  const child = Bun.spawn(wrap([...scriptCommand(command), ...args]), {
    cwd: repoRoot,
    env: Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdout: "pipe",
    stderr: "pipe",
  });
  return collect(child);
}

type SecretReader = (name: string) => Promise<Record<string, string>>;

/** Reads a namespace's Secrets by name (each once), waiting for one made just after its Job. */
function secretReader(cluster: TestCluster, namespace: string): SecretReader {
  const read = new Map<string, Promise<Record<string, string>>>();
  return (name) => {
    if (!read.has(name)) read.set(name, waitForSecret(cluster, namespace, name));
    return read.get(name)!;
  };
}

async function waitForSecret(cluster: TestCluster, namespace: string, name: string): Promise<Record<string, string>> {
  for (let waited = 0; waited < 100; waited++) {
    const secret: V1Secret | undefined = await cluster.core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
    if (secret) return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]));
    await Bun.sleep(100);
  }
  throw new Error(`Secret ${namespace}/${name} never appeared`);
}

/** The container's variables: its values, each secretKeyRef's value, and every key of an envFrom Secret. */
async function containerEnv(container: V1Container, secrets: SecretReader): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) Object.assign(env, await secrets(source.secretRef!.name!));
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (!ref) env[variable.name] = variable.value ?? "";
    else {
      const value = (await secrets(ref.name!))[ref.key];
      if (value === undefined) throw new Error(`Secret ${ref.name} has no key ${ref.key} (a kubelet would not start the container)`);
      env[variable.name] = value;
    }
  }
  return env;
}

/**
 * Each Secret volume the container mounts, as a folder under the pod's state: its items (or every
 * key) as files with the item's mode, else the volume's defaultMode, else 0644; with a pod
 * fsGroup, group-owned by it and group-readable, as the kubelet leaves them.
 */
async function materialiseSecretVolumes(pod: V1Pod, state: string, secrets: SecretReader): Promise<Record<string, string>> {
  const mounts: Record<string, string> = {};
  const fsGroup = pod.spec!.securityContext?.fsGroup;
  for (const mount of pod.spec!.containers[0]!.volumeMounts ?? []) {
    const source = pod.spec!.volumes?.find((volume) => volume.name === mount.name)?.secret;
    if (!source) continue;
    const data = await secrets(source.secretName!);
    const folder = join(state, "volumes", mount.name);
    await mkdir(folder, { recursive: true });
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }));
    for (const item of items) {
      if (data[item.key] === undefined) throw new Error(`Secret ${source.secretName} has no key ${item.key} (a kubelet would not mount the volume)`);
      const file = join(folder, item.path);
      await writeFile(file, data[item.key]!);
      let mode = item.mode ?? source.defaultMode ?? SECRET_DEFAULT_MODE;
      if (fsGroup !== undefined) {
        await chown(file, -1, fsGroup);
        mode |= FS_GROUP_READ_MASK;
      }
      await chmod(file, mode);
    }
    mounts[mount.mountPath] = folder;
  }
  return mounts;
}

/** A value with each mount path (as a path prefix) replaced by the folder standing in for it. */
function atHostPaths(value: string, mounts: Record<string, string>): string {
  let out = value;
  for (const [mountPath, folder] of Object.entries(mounts)) out = out.replaceAll(`${mountPath}/`, `${folder}/`);
  return out;
}

/** Each PVC the container mounts: its mount path in the pod, and the host folder of the PV behind it. */
async function claimHostPaths(cluster: TestCluster, pod: V1Pod): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const mount of pod.spec!.containers[0]!.volumeMounts ?? []) {
    const claimName = pod.spec!.volumes?.find((volume) => volume.name === mount.name)?.persistentVolumeClaim?.claimName;
    if (claimName) paths[mount.mountPath] = await claimHostPath(cluster, pod, claimName);
  }
  return paths;
}

async function claimHostPath(cluster: TestCluster, pod: V1Pod, claimName: string): Promise<string> {
  // A WaitForFirstConsumer claim is bound as its first pod is scheduled: give the binding a moment.
  for (let waited = 0; ; waited++) {
    const claim = await cluster.core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace: pod.metadata!.namespace! });
    if (claim.spec?.volumeName) return (await cluster.core.readPersistentVolume({ name: claim.spec.volumeName })).spec!.hostPath!.path;
    if (waited >= 100) throw new Error(`PVC ${pod.metadata!.namespace}/${claimName} of pod ${pod.metadata!.name} never got a volume`);
    await Bun.sleep(100);
  }
}

/** kopia-backup's --volumes with each volume's path as the host folder standing in for its mount. */
function atVolumeHostPaths(volumesJson: string, claimMounts: Record<string, string>): string {
  const volumes = JSON.parse(volumesJson) as { path: string }[];
  return JSON.stringify(volumes.map((volume) => ({ ...volume, path: claimMounts[volume.path] ?? volume.path })));
}

/**
 * operator-backup for one namespace with every Job of the run played on this host (init and
 * maintenance in that namespace too, under a fresh run id); resolves once the run and its Jobs ended.
 */
export async function runOperatorWithHostJobs(
  cluster: TestCluster,
  namespace: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  host: HostRunOptions = {},
): Promise<{ run: ScriptRun; runs: HostRun[] }> {
  const runId = `host${crypto.randomUUID().slice(0, 8)}`;
  const runner = runJobPodsOnHost(cluster, runId, host);
  const run = await runScript("operator-backup", [
    "--namespace", namespace, "--uuid", runId, "--maintenance-namespace", namespace, "--job-annotation", HOST_RUN_ANNOTATION, ...args,
  ], { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD, ...env });
  return { run, runs: await runner.stop() };
}

/**
 * operator-restore with every Job of the run (resolve, list, restore) played on this host, under a
 * fresh run id; resolves once the run and its Jobs ended.
 */
export async function runOperatorRestoreWithHostJobs(
  cluster: TestCluster,
  args: string[],
  env: Record<string, string | undefined> = {},
  host: HostRunOptions = {},
): Promise<{ run: ScriptRun; runs: HostRun[] }> {
  const runId = `host${crypto.randomUUID().slice(0, 8)}`;
  const runner = runJobPodsOnHost(cluster, runId, host);
  const run = await runScript("operator-restore", ["--uuid", runId, "--job-annotation", HOST_RUN_ANNOTATION, ...args], { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD, ...env });
  return { run, runs: await runner.stop() };
}
