/**
 * The control plane of the test cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
 * and the kwok controller, started by `kwokctl` (binary runtime) from the binaries on PATH, on 127.0.0.1.
 * kwokctl detaches them (own sessions), so stopping is done here from its pid files.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killProcessGroup, startDetached } from "./processes.ts";

const CLUSTER_NAME = "kk";
/** etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok-controller */
export const COMPONENTS = 5;
const kwokConfigDir = join(import.meta.dir, "..", "tools", "kwok");
const configFiles = ["node-stages.yaml", "pod-stages.yaml", "exec.yaml"].map((file) => join(kwokConfigDir, file));

// Enough for Jobs, PVCs and namespaces to behave as in a real cluster; the rest stays off (2 cores).
const CONTROLLERS = [
  "job-controller",
  "cronjob-controller",
  "ttl-after-finished-controller",
  "garbage-collector-controller",
  "namespace-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "root-ca-certificate-publisher-controller",
  "persistentvolume-binder-controller",
  "persistentvolume-protection-controller",
  "persistentvolumeclaim-protection-controller",
  "ephemeral-volume-controller", // makes the PVC of a pod's generic ephemeral volume
  "pod-garbage-collector-controller",
  "node-lifecycle-controller", // lifts the node.kubernetes.io/not-ready taint the API server puts on new nodes
  "deployment-controller",
  "replicaset-controller",
  "statefulset-controller", // operator-restore --scale-down of a StatefulSet
];

/**
 * A free port below Linux's ephemeral range (32768+), so no outgoing connection can take it before
 * the component binds it; random, so that concurrent test runs rarely pick the same one.
 */
function stablePort(taken: Set<number>): number {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    } catch {
      continue;
    }
    taken.add(port);
    return port;
  }
}

function tool(name: string): string {
  const path = Bun.which(name, { PATH: process.env.PATH ?? "" }); // Bun.which alone ignores PATH changes made at runtime
  if (!path) throw new Error(`${name} is not on PATH: run test/tools/provision.sh cluster, or set KK_TOOLS_BIN`);
  return path;
}

function versionOf(binary: string, pattern: RegExp): string {
  const run = Bun.spawnSync([binary, "--version"], { stdout: "pipe", stderr: "pipe" });
  const version = pattern.exec(run.stdout.toString())?.[1];
  if (!version) throw new Error(`cannot read the version of ${binary}: ${run.stdout}${run.stderr}`);
  return version;
}

/**
 * Opt-in, for benchmarks: KK_KUBE_AUDIT_POLICY names an audit policy file; the API server then writes
 * its audit log to auditLogPathOf(workdir). Unset (the default): no audit log.
 */
export function auditLogPathOf(workdir: string): string {
  return join(workdir, "clusters", CLUSTER_NAME, "logs", "audit.log");
}

/**
 * Nodes with this label are left alone by the kwok controller: a real kubelet runs them
 * (test/support/real-node.ts). Every other node is kwok's, as with --manage-all-nodes.
 */
export const REAL_NODE_LABEL = "kopia-k8s.test/real-node";

export function pkiDirOf(workdir: string): string {
  return join(workdir, "clusters", CLUSTER_NAME, "pki");
}

function kwokctlConfiguration(workdir: string) {
  const apiserver = tool("kube-apiserver");
  const auditPolicy = process.env.KK_KUBE_AUDIT_POLICY;
  const etcd = tool("etcd");
  const taken = new Set<number>();
  const port = () => stablePort(taken);
  return {
    apiVersion: "config.kwok.x-k8s.io/v1alpha1",
    kind: "KwokctlConfiguration",
    options: {
      runtime: "binary",
      kubeVersion: versionOf(apiserver, /Kubernetes (v\d+\.\d+\.\d+)/),
      etcdVersion: versionOf(etcd, /etcd Version: (\d+\.\d+\.\d+)/),
      bindAddress: "127.0.0.1",
      kubeApiserverPort: port(),
      etcdPort: port(),
      etcdPeerPort: port(),
      kubeControllerManagerPort: port(),
      kubeSchedulerPort: port(),
      kwokControllerPort: port(),
      // Absolute paths: kwokctl links them instead of downloading release binaries.
      kubeApiserverBinary: apiserver,
      kubeControllerManagerBinary: tool("kube-controller-manager"),
      kubeSchedulerBinary: tool("kube-scheduler"),
      kubectlBinary: tool("kubectl"),
      etcdBinary: etcd,
      kwokControllerBinary: tool("kwok"),
      etcdQuotaBackendSize: "1Gi",
      // Tests may give one pod its own exec rule (workDir, env) with a namespaced kwok Exec object.
      enableCRDs: ["Exec"],
      ...(auditPolicy ? { kubeAuditPolicy: auditPolicy } : {}),
    },
    componentsPatches: [
      // One instance each: no leader election, so that an API server stopped for a while (see
      // stopApiServer) does not make them give up their lease and exit.
      {
        name: "kube-controller-manager",
        extraArgs: [
          { key: "controllers", value: CONTROLLERS.join(",") },
          { key: "leader-elect", value: "false" },
        ],
      },
      { name: "kube-scheduler", extraArgs: [{ key: "leader-elect", value: "false" }] },
      {
        // For a real kubelet (pods/exec, logs): the API server authenticates to it with the admin
        // certificate and reaches it on its InternalIP (its Hostname does not resolve). kwok nodes
        // get InternalIP 127.0.0.1 from --node-ip below, which reaches the kwok controller as before.
        name: "kube-apiserver",
        extraArgs: [
          { key: "kubelet-client-certificate", value: join(pkiDirOf(workdir), "admin.crt") },
          { key: "kubelet-client-key", value: join(pkiDirOf(workdir), "admin.key") },
          { key: "kubelet-preferred-address-types", value: "InternalIP,Hostname" },
        ],
      },
      {
        name: "kwok-controller",
        extraArgs: [
          { key: "manage-all-nodes", value: "false", override: true },
          { key: "manage-nodes-with-label-selector", value: `${REAL_NODE_LABEL}!=true` },
          { key: "node-ip", value: "127.0.0.1", override: true },
        ],
      },
    ],
  };
}

/** kwokctl reads KWOK_* variables as defaults; only ours may apply. */
function kwokEnv(workdir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("KWOK_") && value !== undefined) env[key] = value;
  return { ...env, KWOK_WORKDIR: workdir };
}

export function kubeconfigPathOf(workdir: string): string {
  return join(workdir, "clusters", CLUSTER_NAME, "kubeconfig.yaml");
}

/** Creates and starts the control plane in workdir (which must not hold a running one). On failure the caller stops what did start. */
export async function startControlPlane(workdir: string): Promise<string> {
  const configPath = join(workdir, "kwokctl.json");
  writeFileSync(configPath, JSON.stringify(kwokctlConfiguration(workdir), null, 2));
  const configArgs = [configPath, ...configFiles].flatMap((file) => ["-c", file]);
  // --kubeconfig= keeps kwokctl away from ~/.kube/config.
  const create = Bun.spawn([tool("kwokctl"), "--name", CLUSTER_NAME, ...configArgs, "create", "cluster", "--kubeconfig=", "--wait", "90s"], {
    env: kwokEnv(workdir),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [exitCode, out, err] = await Promise.all([create.exited, new Response(create.stdout).text(), new Response(create.stderr).text()]);
  if (exitCode !== 0) throw new Error(`kwokctl create cluster failed (exit ${exitCode}):\n${out}${err}`);
  // kwokctl waits for the API server only; a component that could not start (say, its port was taken) is gone by now.
  const stopped = stoppedComponent(workdir);
  if (stopped) throw new Error(`${stopped} stopped right after the start`);
  return kubeconfigPathOf(workdir);
}

/** The last lines of each component's log, for error messages. */
export function componentLogs(workdir: string): string {
  const dir = join(workdir, "clusters", CLUSTER_NAME, "logs");
  if (!existsSync(dir)) return "";
  return readdirSync(dir)
    .map((file) => `--- ${file} (tail)\n${readFileSync(join(dir, file), "utf8").split("\n").slice(-15).join("\n")}`)
    .join("\n");
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Live control-plane processes of workdir: from the pid files, checked against /proc (pids get reused). */
export function controlPlanePids(workdir: string): number[] {
  const dir = join(workdir, "clusters", CLUSTER_NAME, "pids");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((file) => Number.parseInt(readFileSync(join(dir, file), "utf8"), 10))
    .filter((pid) => pid > 0 && commandLineOf(pid).includes(workdir));
}

/** The name of a component that is not running (any, if several), or undefined when all are. */
export function stoppedComponent(workdir: string): string | undefined {
  const dir = join(workdir, "clusters", CLUSTER_NAME, "pids");
  if (!existsSync(dir)) return "the control plane";
  const running = new Set(controlPlanePids(workdir));
  const names = readdirSync(dir).filter((file) => !running.has(Number.parseInt(readFileSync(join(dir, file), "utf8"), 10)));
  return names[0]?.replace(/\.pid$/, "");
}

/**
 * Stops kube-apiserver the way a crash would (SIGKILL). The returned function starts it again with
 * the same command line, folder, environment and log, and resolves once it serves requests again
 * (`serving` is asked until it says yes) with every other component still running.
 */
export function stopApiServer(workdir: string, serving: () => Promise<boolean>): () => Promise<void> {
  const pidFile = join(workdir, "clusters", CLUSTER_NAME, "pids", "kube-apiserver.pid");
  const pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const logPath = readlinkSync(`/proc/${pid}/fd/1`);
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
  process.kill(pid, "SIGKILL");
  return async () => {
    while (commandLineOf(pid)) await Bun.sleep(50);
    const log = openSync(logPath, "a");
    // Its own session, as kwokctl starts it; setsid execs in place, so the pid is the API server's.
    const child = Bun.spawn(["setsid", ...argv], { cwd, env, stdio: ["ignore", log, log] });
    child.unref();
    closeSync(log);
    writeFileSync(pidFile, String(child.pid));
    const deadline = Date.now() + 60_000;
    while (!(await serving().catch(() => false))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`kube-apiserver did not come back:\n${componentLogs(workdir)}`);
      await Bun.sleep(200);
    }
    const stopped = stoppedComponent(workdir);
    if (stopped) throw new Error(`${stopped} stopped while kube-apiserver was down:\n${componentLogs(workdir)}`);
  };
}

/** Synchronous on purpose: it also runs from signal handlers, right before the process exits. */
export function killControlPlane(workdir: string): void {
  for (const pid of controlPlanePids(workdir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export async function stopControlPlane(workdir: string): Promise<void> {
  killControlPlane(workdir);
  const deadline = Date.now() + 10_000;
  while (controlPlanePids(workdir).length && Date.now() < deadline) await Bun.sleep(50);
  rmSync(workdir, { recursive: true, force: true });
}

/**
 * A detached shell that outlives a crashed or SIGKILLed test process: when `owner` is gone it kills
 * the control plane of workdir and removes the folder. Returns its pid (also its process group).
 */
export function startWatchdog(workdir: string, owner = process.pid): number {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
for f in "$2"/clusters/*/pids/*.pid; do
  pid=$(cat "$f" 2>/dev/null) || continue
  tr '\\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" && kill -9 "$pid"
done
rm -rf -- "$2"`;
  return startDetached("kk-cluster-watchdog", script, [String(owner), workdir]);
}

export const stopWatchdog = killProcessGroup;

const OWNER_FILE = "owner.pid";

export function recordOwner(workdir: string): void {
  writeFileSync(join(workdir, OWNER_FILE), String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes clusters left in parent/<prefix>* by test processes that no longer exist. */
export async function reapStaleClusters(parent: string, prefix: string): Promise<void> {
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(prefix)) continue;
    const workdir = join(parent, entry);
    const ownerFile = join(workdir, OWNER_FILE);
    if (!existsSync(ownerFile)) continue;
    const owner = Number.parseInt(readFileSync(ownerFile, "utf8"), 10);
    if (owner > 0 && owner !== process.pid && isAlive(owner)) continue;
    await stopControlPlane(workdir);
  }
}
