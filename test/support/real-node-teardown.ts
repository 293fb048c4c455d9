/**
 * Teardown of a real node (test/support/real-node.ts), synchronous on purpose: it also runs from
 * signal handlers right before the process exits, and for the folders of test processes that died.
 * Scope: only what this node made — processes below its shims (found by its containerd socket),
 * its own cgroup root, mounts under its folder, its bridge.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killProcessGroup, startDetached } from "./processes.ts";

export interface NodeState {
  dir: string;
  socket: string;
  bridge: string;
  subnet: string;
  /** A device of its own (a bridge without ports) holding nodeIP: the kubelet refuses a loopback node IP. */
  ipDevice: string;
  nodeIP: string;
  cniBinDir: string;
  /** The cgroup (below each hierarchy's root) that holds all pod cgroups, e.g. /kk-real-abc123. */
  cgroupRoot: string;
  pids: { kubelet?: number; containerd?: number };
  /** Folders outside dir that containerd and the kubelet create where they please (shim sockets, log
   * links) and that did not exist before: removed at teardown when empty. */
  createdDirs: string[];
}

/** containerd puts shim sockets in /run/containerd/s whatever its state folder; the kubelet links logs into /var/log/containers. */
export const FIXED_DIRS = ["/run/containerd/s", "/run/containerd", "/var/log/containers"];

export const STATE_FILE = "state.json";

export function saveState(state: NodeState): void {
  writeFileSync(join(state.dir, STATE_FILE), JSON.stringify(state));
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number.parseInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]!, 10);
  } catch {
    return 0;
  }
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
}

function killAndWait(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => safe(() => alive(pid), false)) && Date.now() < deadline) Bun.sleepSync(20);
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/** The shims of this node's containerd (their command line names its socket) and all their descendants. */
function shimTrees(socket: string): { shims: number[]; descendants: number[] } {
  const pids = allPids();
  const shims = pids.filter((pid) => {
    const args = cmdline(pid);
    return (args[0] ?? "").endsWith("containerd-shim-runc-v2") && args.includes(socket);
  });
  const parents = new Map(pids.map((pid) => [pid, parentOf(pid)]));
  const descendants: number[] = [];
  const frontier = [...shims];
  while (frontier.length) {
    const parent = frontier.pop()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent && !descendants.includes(pid)) {
        descendants.push(pid);
        frontier.push(pid);
      }
    }
  }
  return { shims, descendants };
}

/** The cgroup v1 hierarchies (and the v2 one, if any) mounted under /sys/fs/cgroup. */
export function cgroupHierarchies(): string[] {
  const base = "/sys/fs/cgroup";
  if (existsSync(join(base, "cgroup.controllers"))) return [base]; // pure v2
  return readdirSync(base)
    .map((entry) => join(base, entry))
    .filter((path) => safe(() => statSync(path).isDirectory() && existsSync(join(path, "cgroup.procs")), false));
}

function cgroupDirsBottomUp(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of safe(() => readdirSync(dir, { withFileTypes: true }), [])) if (entry.isDirectory()) walk(join(dir, entry.name));
    out.push(dir);
  };
  walk(root);
  return out;
}

function processesInCgroups(cgroupRoot: string): number[] {
  const pids = new Set<number>();
  for (const hierarchy of cgroupHierarchies()) {
    for (const dir of cgroupDirsBottomUp(join(hierarchy, cgroupRoot))) {
      for (const line of safe(() => readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n"), [])) if (line) pids.add(Number(line));
    }
  }
  return [...pids];
}

/** Mount points at or below dir, deepest first (mountinfo escapes blanks as octal). */
export function mountsUnder(dir: string): string[] {
  const unescape = (path: string) => path.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(Number.parseInt(octal, 8)));
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => unescape(line.split(" ")[4] ?? ""))
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** The sockets the node's shims made outside its folder (in /run/containerd/s): read from each task bundle. */
function shimSockets(dir: string): string[] {
  const tasks = join(dir, "containerd", "state", "io.containerd.runtime.v2.task");
  const sockets: string[] = [];
  for (const namespace of safe(() => readdirSync(tasks), [])) {
    for (const id of safe(() => readdirSync(join(tasks, namespace)), [])) {
      const bundle = join(tasks, namespace, id);
      const bootstrap = safe(() => (JSON.parse(readFileSync(join(bundle, "bootstrap.json"), "utf8")) as { address?: string }).address, undefined);
      const address = bootstrap ?? safe(() => readFileSync(join(bundle, "address"), "utf8").trim(), undefined);
      const path = address?.replace(/^unix:\/\//, "");
      if (path?.startsWith("/") && !path.startsWith(`${dir}/`)) sockets.push(path);
    }
  }
  // Bundles of removed sandboxes are gone, but containerd logged every shim it connected to.
  const log = safe(() => readFileSync(join(dir, "logs", "containerd.log"), "utf8"), "");
  for (const match of log.matchAll(/address="unix:\/\/(\/[^"]+)"/g)) if (!match[1]!.startsWith(`${dir}/`)) sockets.push(match[1]!);
  return [...new Set(sockets)];
}

/**
 * containerd may pin pod network namespaces in /run/netns (cni-<uuid>), whatever netns_mounts_under
 * says; each keeps a veth alive. The node's own are those with an address in its pod subnet.
 */
function removePodNetworkNamespaces(subnet: string): void {
  if (!subnet) return;
  const prefix = subnet.replace(/0\/\d+$/, "");
  for (const name of safe(() => readdirSync("/run/netns"), [] as string[])) {
    const addresses = Bun.spawnSync(["ip", "-n", name, "-4", "-o", "addr", "show"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
    if (addresses.includes(` ${prefix}`)) Bun.spawnSync(["ip", "netns", "delete", name], { stdout: "ignore", stderr: "ignore" });
  }
}

/** Stops everything of the node and removes its folder. Safe to call twice, and for half-started nodes. */
export function teardownState(state: NodeState): void {
  const own = [state.pids.kubelet, state.pids.containerd].filter((pid): pid is number => Boolean(pid) && cmdline(pid!).some((arg) => arg.includes(state.dir)));
  // The kubelet first (it would restart containers), then every container process, the shims, containerd.
  if (state.pids.kubelet && own.includes(state.pids.kubelet)) killAndWait([state.pids.kubelet]);
  for (let round = 0; round < 3; round++) {
    const { shims, descendants } = shimTrees(state.socket);
    const inCgroups = state.cgroupRoot ? processesInCgroups(state.cgroupRoot) : [];
    const victims = [...new Set([...descendants, ...inCgroups])];
    if (!victims.length && !shims.length) break;
    killAndWait(victims);
    killAndWait(shims);
  }
  if (state.pids.containerd && own.includes(state.pids.containerd)) killAndWait([state.pids.containerd]);
  for (const socket of shimSockets(state.dir)) rmSync(socket, { force: true });
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(state.dir);
    if (!mounts.length) break;
    for (const mountPoint of mounts) Bun.spawnSync(["umount", "-l", mountPoint], { stdout: "ignore", stderr: "ignore" });
  }
  removePodNetworkNamespaces(state.subnet);
  for (const link of [state.bridge, state.ipDevice]) {
    if (link && linkExists(link)) Bun.spawnSync(["ip", "link", "delete", link], { stdout: "ignore", stderr: "ignore" });
  }
  if (state.cgroupRoot) {
    for (const hierarchy of cgroupHierarchies()) {
      for (const dir of cgroupDirsBottomUp(join(hierarchy, state.cgroupRoot))) safe(() => rmdirSync(dir), undefined);
    }
  }
  // The kubelet links every container log into /var/log/containers.
  const links = "/var/log/containers";
  for (const entry of safe(() => readdirSync(links), [])) {
    const path = join(links, entry);
    if (safe(() => readlinkSync(path), "").startsWith(`${state.dir}/`)) rmSync(path, { force: true });
  }
  for (const dir of state.createdDirs ?? []) safe(() => rmdirSync(dir), undefined); // deepest first; only if empty
  if (!mountsUnder(state.dir).length) rmSync(state.dir, { recursive: true, force: true });
}

/** Tears down the nodes in parent/<prefix>* of test processes that no longer run (SIGKILLed ones). */
export function killStrays(parent: string, prefix: string): void {
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(prefix)) continue;
    const dir = join(parent, entry);
    const owner = Number.parseInt(safe(() => readFileSync(join(dir, "owner.pid"), "utf8"), "0"), 10);
    if (owner > 0 && owner !== process.pid && safe(() => alive(owner), false)) continue;
    if (owner === process.pid) continue;
    const state = safe(() => JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as NodeState, undefined);
    if (state) teardownState(state);
    else if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A detached shell that outlives a crashed or SIGKILLed test process: when `owner` is gone it runs
 * this file on the node's folder (teardownState from its state.json). Returns its pid (its group).
 */
export function startNodeWatchdog(dir: string, owner = process.pid): number {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" "$3" "$4"`;
  return startDetached("kk-real-node-watchdog", script, [String(owner), process.execPath, import.meta.path, dir]);
}

export const stopNodeWatchdog = killProcessGroup;

if (import.meta.main) {
  // bun real-node-teardown.ts <node folder>: what the watchdog runs.
  const dir = process.argv[2];
  const state = dir ? safe(() => JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as NodeState, undefined) : undefined;
  if (state) teardownState(state);
}
