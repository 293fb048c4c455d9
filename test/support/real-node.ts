/**
 * One real node in the test cluster, beside the kwok ones: a kubelet and containerd on this host run
 * real containers from images imported into containerd (nothing can be pulled here).
 *
 *   const node = await startRealNode(cluster, { images: ["localhost/kopia-k8s:0.1.0"] });
 *
 * The node is named kk-real, labelled kubernetes.io/hostname=kk-real and REAL_NODE_LABEL=true (the
 * kwok controller leaves it alone), reachable by the API server on its InternalIP (pods/exec, logs):
 * an address on a device of its own (a bridge without ports; the kubelet refuses a loopback node IP).
 * Pods get their network from a bridge + host-local CNI config (no masquerading, nothing reaches
 * out); hostNetwork pods work too. All state lives in one temp folder; stop() (also a cleanup) kills
 * every container, shim, containerd and kubelet, unmounts what they mounted and removes the bridge.
 *
 * Needs root, cgroups (v1 or v2), and `test/tools/provision.sh node` (containerd, ctr, shim, pause).
 */
import type { V1Node } from "@kubernetes/client-node";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pkiDirOf, REAL_NODE_LABEL } from "./cluster-kwok.ts";
import type { TestCluster } from "./cluster.ts";
import { onCleanup, waitFor } from "./processes.ts";
import {
  cgroupHierarchies,
  FIXED_DIRS,
  killStrays,
  type NodeState,
  saveState,
  startNodeWatchdog,
  stopNodeWatchdog,
  teardownState,
} from "./real-node-teardown.ts";

export { REAL_NODE_LABEL };
export const REAL_NODE_NAME = "kk-real";
/** The sandbox image, built by provision.sh (pause.tar beside the pause binary). */
export const PAUSE_IMAGE = "localhost/kk-pause:v1.36.1";
const NAMESPACE = "k8s.io"; // containerd namespace the CRI plugin uses

export interface RealNodeOptions {
  /** Images from podman's storage (CONTAINERS_CONF of the repo) to import into the node. */
  images?: string[];
  /** Node name, default kk-real. */
  name?: string;
}

export interface RealNode {
  name: string;
  /** The node's temp folder (containerd and kubelet state, logs). */
  dir: string;
  /** Runs ctr against the node's containerd (namespace k8s.io). */
  ctr(args: string[]): Promise<string>;
  /** Last lines of the kubelet and containerd logs, for error messages. */
  logs(lines?: number): string;
  versions: Record<string, string>;
  /**
   * The pods' network: the CNI bridge (made on this host by the first pod's sandbox), its subnet,
   * and host-local's allocation store, one file per address in use (a file of one's own keeps an
   * address from pods).
   */
  podNetwork: { bridge: string; subnet: string; ipamStore: string };
  /** How long start() took, in ms, and how much of it was importing images. */
  timings: { startMs: number; importMs: number };
  stop(): Promise<void>;
}

function tool(name: string): string {
  const path = Bun.which(name, { PATH: process.env.PATH ?? "" });
  if (!path) throw new Error(`${name} is not on PATH: run test/tools/provision.sh node, or set KK_TOOLS_BIN`);
  return path;
}

function run(cmd: string[], options: { env?: Record<string, string | undefined>; allowFail?: boolean } = {}): string {
  const result = Bun.spawnSync(cmd, { env: { ...process.env, ...options.env }, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0 && !options.allowFail) throw new Error(`${cmd.join(" ")} failed (exit ${result.exitCode}): ${result.stderr}${result.stdout}`);
  return result.stdout.toString();
}

async function runAsync(cmd: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const child = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${code}): ${err}${out}`);
  return out;
}

/** A free port below the ephemeral range (see cluster-kwok.ts). */
function stablePort(): number {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      return port;
    } catch {
      // taken
    }
  }
}

function tail(path: string, lines: number): string {
  if (!existsSync(path)) return "";
  return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
}

function containerdConfig(state: NodeState, pauseImage: string, runc: string, snapshotter: string): string {
  return `version = 3
root = '${state.dir}/containerd/root'
state = '${state.dir}/containerd/state'
disabled_plugins = ['io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper', 'io.containerd.snapshotter.v1.aufs', 'io.containerd.snapshotter.v1.blockfile', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing', 'io.containerd.nri.v1.nri']

[grpc]
  address = '${state.socket}'

[ttrpc]
  address = '${state.socket}.ttrpc'

[metrics]
  address = ''

[plugins.'io.containerd.cri.v1.images']
  snapshotter = '${snapshotter}'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '${pauseImage}'

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  disable_apparmor = true
  # No CAP_SYS_RESOURCE on some hosts (these VMs): the sandbox's oom_score_adj -998 (and Guaranteed
  # pods' -997) cannot be written, and runc init dies ("can't get final child's PID from pipe: EOF").
  # This raises any lower score to containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under = '${state.dir}/netns'
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['${state.cniBinDir}']
    conf_dir = '${state.dir}/cni/net.d'
    max_conf_num = 1
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = '${runc}'
        Root = '${state.dir}/runc'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
`;
}

function cniConfig(state: NodeState): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: state.bridge,
      plugins: [
        {
          type: "bridge",
          bridge: state.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: false,
          ipam: { type: "host-local", ranges: [[{ subnet: state.subnet }]], dataDir: join(state.dir, "cni", "ipam") },
        },
        { type: "loopback" },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(state: NodeState, caFile: string, port: number): string {
  // JSON is valid YAML; the kubelet reads either.
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot: state.cgroupRoot,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${state.socket}`,
      address: state.nodeIP,
      port,
      readOnlyPort: 0,
      healthzPort: 0,
      enableServer: true,
      authentication: { x509: { clientCAFile: caFile }, webhook: { enabled: true }, anonymous: { enabled: false } },
      authorization: { mode: "Webhook" },
      // Imported images cannot be pulled back: never collect them, never evict for disk pressure.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { "memory.available": "1Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%", "imagefs.available": "1%", "imagefs.inodesFree": "1%" },
      staticPodPath: "",
      podLogsDir: join(state.dir, "pod-logs"),
      volumePluginDir: join(state.dir, "volume-plugins"),
      resolvConf: "",
      serializeImagePulls: false,
      nodeStatusUpdateFrequency: "5s",
      nodeStatusReportFrequency: "10s",
      syncFrequency: "10s",
      fileCheckFrequency: "1m",
      maxPods: 20,
      localStorageCapacityIsolation: false,
      containerLogMaxSize: "1Mi",
      containerLogMaxFiles: 2,
      shutdownGracePeriod: "0s",
    },
    null,
    2,
  );
}

/** Whether the kernel can do overlayfs mounts on the temp folder's file system. */
function snapshotterFor(dir: string): string {
  const probe = join(dir, "overlay-probe");
  for (const sub of ["lower", "upper", "work", "merged"]) mkdirSync(join(probe, sub), { recursive: true });
  const ok = Bun.spawnSync(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work`, `${probe}/merged`]).exitCode === 0;
  if (ok) run(["umount", `${probe}/merged`]);
  rmSync(probe, { recursive: true, force: true });
  return ok ? "overlayfs" : "native";
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Adds a real node to the cluster; it is stopped by the cleanups (or by stop()). */
export async function startRealNode(cluster: TestCluster, options: RealNodeOptions = {}): Promise<RealNode> {
  const started = performance.now();
  const name = options.name ?? REAL_NODE_NAME;
  // kubeconfigPathOf(workdir) is <workdir>/clusters/<name>/kubeconfig.yaml
  const caFile = join(pkiDirOf(join(dirname(cluster.kubeconfigPath), "..", "..")), "ca.crt");
  if (!existsSync(caFile)) throw new Error(`no cluster CA at ${caFile}`);
  const containerd = tool("containerd");
  const ctrBinary = tool("ctr");
  tool("containerd-shim-runc-v2");
  const kubelet = tool("kubelet");
  const runc = tool("runc");
  const pauseTar = join(dirname(realpathSync(tool("pause"))), "pause.tar");
  const cniBinDir = ["/usr/lib/cni", "/opt/cni/bin"].find((dir) => existsSync(join(dir, "bridge")));
  if (!cniBinDir) throw new Error("no CNI plugins (bridge, host-local, loopback): apt-get install containernetworking-plugins");

  killStrays(tmpdir(), "kk-real-node-"); // left by a test process that died before its watchdog could act
  const dir = mkdtempSync(join(tmpdir(), "kk-real-node-"));
  const id = dir.slice(-6).toLowerCase().replace(/[^a-z0-9]/g, "x");
  // 10.223.N.0/24 for pods and 10.222.N.1 for the node, N from the folder name: disjoint from kwok's
  // pod CIDR (10.0.0.0/24) and podman's (10.88.0.0/16), rarely the same for two nodes at once.
  const n = Number.parseInt(id, 36) % 250;
  const state: NodeState = {
    dir,
    socket: join(dir, "containerd.sock"),
    bridge: `kkr-${id}`.slice(0, 15),
    subnet: `10.223.${n}.0/24`,
    ipDevice: `kkd-${id}`.slice(0, 15),
    nodeIP: `10.222.${n}.1`,
    cniBinDir,
    cgroupRoot: `/kk-real-${id}`,
    pids: {},
    createdDirs: FIXED_DIRS.filter((path) => !existsSync(path)),
  };
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  saveState(state);
  const watchdog = startNodeWatchdog(dir);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    teardownState(state); // synchronous: on SIGINT/SIGTERM only the part before the first await runs
    stopNodeWatchdog(watchdog);
    await cluster.core.deleteNode({ name }).catch(() => {});
  };
  onCleanup(stop);

  try {
    createCgroupRoot(state.cgroupRoot);
    run(["ip", "link", "add", state.ipDevice, "type", "bridge"]); // no dummy driver in every kernel; a bridge without ports does the same
    run(["ip", "addr", "add", `${state.nodeIP}/32`, "dev", state.ipDevice]);
    run(["ip", "link", "set", state.ipDevice, "up"]);
    for (const sub of ["containerd/root", "containerd/state", "cni/net.d", "cni/ipam", "kubelet", "netns", "pod-logs", "volume-plugins", "logs"]) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    // The kubelet's mounts (volumes, tokens) must propagate into containers: its root folder is a
    // shared bind mount of itself, so this host's own "/" stays as it is.
    const kubeletDir = join(dir, "kubelet");
    run(["mount", "--bind", kubeletDir, kubeletDir]);
    run(["mount", "--make-rshared", kubeletDir]);

    const snapshotter = snapshotterFor(dir);
    writeFileSync(join(dir, "containerd.toml"), containerdConfig(state, PAUSE_IMAGE, runc, snapshotter));
    writeFileSync(join(dir, "cni", "net.d", "10-kk-real.conflist"), cniConfig(state));
    const containerdLog = Bun.file(join(dir, "logs", "containerd.log"));
    const containerdProcess = Bun.spawn([containerd, "--config", join(dir, "containerd.toml"), "--log-level", "info"], {
      stdio: ["ignore", containerdLog, containerdLog],
      env: { ...process.env, TMPDIR: join(dir, "containerd") },
    });
    state.pids.containerd = containerdProcess.pid;
    saveState(state);
    const ctr = (args: string[]) => runAsync([ctrBinary, "--address", state.socket, "--namespace", NAMESPACE, ...args]);
    await waitFor("containerd", async () => {
      if (containerdProcess.exitCode !== null) throw new Error("containerd exited");
      await ctr(["version"]);
      return true;
    }, 30_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${tail(join(dir, "logs", "containerd.log"), 30)}`);
    });

    const importStarted = performance.now();
    await ctr(["images", "import", "--snapshotter", snapshotter, pauseTar]);
    for (const image of options.images ?? []) await importFromPodman(state, image, ctr, snapshotter);
    const importMs = performance.now() - importStarted;

    writeFileSync(join(dir, "kubelet.json"), kubeletConfig(state, caFile, stablePort()));
    const kubeletLog = Bun.file(join(dir, "logs", "kubelet.log"));
    const kubeletProcess = Bun.spawn(
      [
        kubelet,
        `--config=${join(dir, "kubelet.json")}`,
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--root-dir=${kubeletDir}`,
        `--cert-dir=${join(dir, "kubelet-pki")}`,
        `--hostname-override=${name}`,
        `--node-ip=${state.nodeIP}`,
        `--node-labels=${REAL_NODE_LABEL}=true`,
        "--v=2",
      ],
      { stdio: ["ignore", kubeletLog, kubeletLog] },
    );
    state.pids.kubelet = kubeletProcess.pid;
    saveState(state);

    const logs = (lines = 30) => `--- kubelet.log\n${tail(join(dir, "logs", "kubelet.log"), lines)}\n--- containerd.log\n${tail(join(dir, "logs", "containerd.log"), lines)}`;
    await waitFor(`node ${name} Ready`, async () => {
      if (kubeletProcess.exitCode !== null) throw new Error(`kubelet exited with ${kubeletProcess.exitCode}`);
      return isReady(await cluster.core.readNode({ name }));
    }, 90_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${logs()}`);
    });

    const node = await cluster.core.readNode({ name });
    const versions = {
      kubelet: node.status?.nodeInfo?.kubeletVersion ?? "?",
      containerRuntime: node.status?.nodeInfo?.containerRuntimeVersion ?? "?",
      runc: run([runc, "--version"]).split("\n")[0] ?? "?",
      kernel: node.status?.nodeInfo?.kernelVersion ?? "?",
      snapshotter,
    };
    const podNetwork = { bridge: state.bridge, subnet: state.subnet, ipamStore: join(dir, "cni", "ipam", state.bridge) };
    return { name, dir, ctr, logs, versions, podNetwork, timings: { startMs: performance.now() - started, importMs }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** podman save → ctr import (a tar in the node folder, removed afterwards). */
async function importFromPodman(state: NodeState, image: string, ctr: (args: string[]) => Promise<string>, snapshotter: string): Promise<void> {
  const conf = join(import.meta.dir, "..", "tools", "podman", "containers.conf");
  const env = { CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? conf };
  const exists = Bun.spawnSync(["podman", "image", "exists", image], { env: { ...process.env, ...env } }).exitCode === 0;
  if (!exists) throw new Error(`image ${image} is not in podman's storage (npm run image builds localhost/kopia-k8s:0.1.0)`);
  const tar = join(state.dir, "image.tar");
  rmSync(tar, { force: true });
  await runAsync(["podman", "save", "--format", "docker-archive", "-o", tar, image], env);
  try {
    await ctr(["images", "import", "--snapshotter", snapshotter, tar]);
  } finally {
    rmSync(tar, { force: true });
  }
}

/** The node's own cgroup in every hierarchy; cpuset needs its cpus and mems before anything joins. */
function createCgroupRoot(cgroupRoot: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const path = join(hierarchy, cgroupRoot);
    mkdirSync(path, { recursive: true });
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (existsSync(join(hierarchy, file))) writeFileSync(join(path, file), readFileSync(join(hierarchy, file)));
    }
  }
}
