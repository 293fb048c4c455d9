#!/usr/bin/env bun
/**
 * operator-backup at scale, on the kwok test cluster: 10 schedulable nodes, 50 namespaces × 10 PVCs
 * (PVs pinned round-robin to the nodes), one Running app pod per PVC. The same workload is backed up
 * three ways, one run after the other: one Job per PVC with --concurrency 3 (as before
 * --node-concurrency and --volumes-per-job existed); by node (the default --concurrency, one per
 * node with volumes, and --node-concurrency) with one Job per PVC; by node with the PVCs of a
 * namespace on one node grouped (--volumes-per-job 10, the default). For each: wall time, Jobs
 * created, API requests (kube-apiserver audit log), most Jobs unfinished at once over the run and on
 * one node, peak RSS. Then --dry-run peak RSS and wall time before and after adding 10,000 bare
 * Running pods. Run: `npm run bench:operator` (or `bun test/bench/operator-backup.bench.ts`).
 * Env: KK_TOOLS_BIN (else provisioned), KK_BENCH_NAMESPACES (50), KK_BENCH_PVCS (10 per namespace),
 * KK_BENCH_NODES (10), KK_BENCH_NODE_CONCURRENCY (n: --concurrency nodes × n --node-concurrency n
 * instead of the defaults), KK_BENCH_VOLUMES_PER_JOB (10), KK_BENCH_EXTRA_PODS (10000; 0 skips the
 * dry runs), KK_BENCH_PARALLEL (32 creates at once), KK_BENCH_DRY_RUNS (3, median),
 * KK_BENCH_POD_BUDGET (1200 s for creating the extra pods).
 * The second workload of issue 15 (20 namespaces, 5 PVCs of each on each of 2 nodes):
 * KK_BENCH_NAMESPACES=20 KK_BENCH_NODES=2 KK_BENCH_EXTRA_PODS=0.
 */
import { KubeConfig, RbacAuthorizationV1Api, Watch, type V1Job, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { auditLogPathOf } from "../support/cluster-kwok.ts";
import { TEST_PASSWORD } from "../support/kopia.ts";
import { runCleanups, tempDir } from "../support/processes.ts";
import { auditLogSize, auditPolicy, readAudit, type AuditSummary } from "./operator-audit.ts";

const root = join(import.meta.dir, "..", "..");
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const NAMESPACES = env("KK_BENCH_NAMESPACES", 50);
const PVCS_PER_NAMESPACE = env("KK_BENCH_PVCS", 10);
const NODES = env("KK_BENCH_NODES", 10);
const EXTRA_PODS = env("KK_BENCH_EXTRA_PODS", 10_000);
const PARALLEL = env("KK_BENCH_PARALLEL", 32);
const DRY_RUNS = env("KK_BENCH_DRY_RUNS", 3);
const POD_BUDGET_MS = env("KK_BENCH_POD_BUDGET", 1200) * 1000;
/** KK_BENCH_NODE_CONCURRENCY / KK_BENCH_VOLUMES_PER_JOB replace the defaults in the second and third way. */
const byNode = process.env.KK_BENCH_NODE_CONCURRENCY
  ? ["--concurrency", String(NODES * Number(process.env.KK_BENCH_NODE_CONCURRENCY)), "--node-concurrency", process.env.KK_BENCH_NODE_CONCURRENCY]
  : [];
const grouped = ["--volumes-per-job", process.env.KK_BENCH_VOLUMES_PER_JOB ?? "10"];
const described = (args: string[], otherwise: string) => (args.length ? args.join(" ") : otherwise);
/** The ways one workload is backed up, each a run of its own over the same PVCs. */
const MODES: { name: string; args: string[] }[] = [
  { name: "one Job per PVC, --concurrency 3 (before)", args: ["--concurrency", "3", "--node-concurrency", "3", "--volumes-per-job", "1"] },
  { name: `by node, ${described(byNode, "default --concurrency and --node-concurrency")}, --volumes-per-job 1`, args: [...byNode, "--volumes-per-job", "1"] },
  { name: `by node and grouped, ${described(byNode, "defaults")}, ${grouped.join(" ")}`, args: [...byNode, ...grouped] },
];
const MANAGED = "app.kubernetes.io/managed-by=kopia-k8s";
const OPERATOR_NS = "kk-bench-operator";
const OPERATOR_SA = "operator-backup";
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NS}:${OPERATOR_SA}`;

const toolsBin =
  process.env.KK_TOOLS_BIN ||
  Bun.spawnSync(["bash", join(root, "test/tools/provision.sh"), "cluster"], { stdout: "pipe", stderr: "inherit" }).stdout.toString().trim().split("\n").at(-1)!;
process.env.KK_TOOLS_BIN = toolsBin;
process.env.PATH = `${toolsBin}:${join(root, "node_modules", ".bin")}:${process.env.PATH}`;

const say = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs fn over items with at most `limit` calls in flight; stops taking new items once `until` says so. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>, until = () => false): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && !until()) {
        const index = next++;
        await fn(items[index]!, index);
      }
    }),
  );
  return next;
}

// The audit log must be on before the cluster starts (read when it starts): the policy logs the operator's identity only.
const work = await tempDir("kk-bench-op-");
process.env.KK_KUBE_AUDIT_POLICY = join(work, "audit-policy.yaml");
await Bun.write(process.env.KK_KUBE_AUDIT_POLICY, auditPolicy(OPERATOR_USER));

async function main(): Promise<void> {
  const figures: [string, string][] = [];
  let started = performance.now();
  const cluster = await sharedCluster();
  const auditLog = auditLogPathOf(join(dirname(cluster.kubeconfigPath), "..", ".."));
  say(`cluster up in ${seconds(performance.now() - started)}`);

  // 1. Nodes, namespaces, PVCs, app pods.
  started = performance.now();
  const nodes = [...cluster.nodes];
  for (let index = nodes.length; index < NODES; index++) nodes.push(`kk-node-${index}`);
  nodes.length = NODES;
  await Promise.all(nodes.filter((name) => !cluster.nodes.includes(name)).map((name) => cluster.core.createNode({ body: nodeBody(name) })));
  await waitUntil("nodes Ready", 60_000, async () => (await cluster.core.listNode()).items.filter((node) => nodes.includes(node.metadata!.name!) && isReady(node)).length === NODES);
  const namespaces: string[] = [];
  await inParallel(Array.from({ length: NAMESPACES }), 8, async () => void namespaces.push(await cluster.freshNamespace("bench")));
  namespaces.sort();
  say(`${NODES} nodes Ready, ${NAMESPACES} namespaces in ${seconds(performance.now() - started)}`);

  started = performance.now();
  const claims = namespaces.flatMap((namespace) => Array.from({ length: PVCS_PER_NAMESPACE }, (_, j) => ({ namespace, name: `data-${j}` })));
  let bound = 0;
  await inParallel(claims, 16, async (claim, index) => {
    await cluster.createBoundPvc(claim.namespace, claim.name, { node: nodes[index % NODES]! });
    if (++bound % 100 === 0) say(`${bound} PVCs bound`);
  });
  const pvcMs = performance.now() - started;
  say(`${claims.length} PVCs bound in ${seconds(pvcMs)}`);

  started = performance.now();
  const appPods = runningPods(cluster, "kk-bench=app");
  await inParallel(claims, PARALLEL, async (claim) => {
    await cluster.core.createNamespacedPod({
      namespace: claim.namespace,
      body: {
        metadata: { name: `app-${claim.name}`, labels: { "kk-bench": "app" } },
        spec: { containers: [{ name: "app", image: "app:1" }], volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim.name } }] },
      },
    });
  });
  await waitUntil(`${claims.length} app pods Running`, 300_000, async () => appPods.count >= claims.length);
  appPods.stop();
  const appPodMs = performance.now() - started;
  say(`${claims.length} app pods Running in ${seconds(appPodMs)}`);

  // 2. The backup runs, one per way, with a distinct identity, so the audit log holds their requests only.
  const kubeconfig = await operatorKubeconfig(cluster);
  const repository = `filesystem://${join(work, "repo")}`;
  // Cluster-wide, as the shipped CronJob runs (the bench cluster holds no other PVCs); KK_BENCH_NAMESPACED=1
  // passes every namespace as --namespace instead: namespaced lists and one Job watch per namespace.
  const namespaceArgs = process.env.KK_BENCH_NAMESPACED === "1" ? namespaces.flatMap((namespace) => ["--namespace", namespace]) : [];
  const baseArgs = [...namespaceArgs, "--repository", repository, "--no-maintenance", "--log-format", "json"];
  const runs: BackupRun[] = [];
  for (const mode of MODES) runs.push(await backupRun(cluster, mode, [...baseArgs, ...mode.args], { kubeconfig, auditLog, namespaces, pvcs: claims.length }));

  // 3. The figures; then dry runs over the app pods only, and with the extra pods.
  figures.push(
    ["cluster", `${NODES} schedulable kwok nodes (+1 tainted, unused), ${NAMESPACES} namespaces × ${PVCS_PER_NAMESPACE} PVCs = ${claims.length} PVCs (PVs pinned round-robin), 1 Running app pod per PVC`],
    ["setup", `PVCs bound in ${seconds(pvcMs)}, app pods Running in ${seconds(appPodMs)}`],
    ...runs.flatMap((run) => run.figures),
  );
  if (EXTRA_PODS > 0) figures.push(...(await dryRunFigures(cluster, { baseArgs, kubeconfig, auditLog, namespaces, nodes, pods: claims.length })));
  printFigures(figures, runs);
}

/** --dry-run before and after adding EXTRA_PODS bare Running pods: wall time and peak RSS. */
async function dryRunFigures(cluster: Cluster, context: { baseArgs: string[]; kubeconfig: string; auditLog: string; namespaces: string[]; nodes: string[]; pods: number }): Promise<[string, string][]> {
  const { baseArgs, kubeconfig, auditLog, namespaces, nodes } = context;
  const dryBefore = await dryRuns(baseArgs, kubeconfig, auditLog);
  say(`dry run (${context.pods} pods): ${seconds(dryBefore.ms)}, ${mib(dryBefore.rss)}`);

  const started = performance.now();
  const fillers = runningPods(cluster, "kk-bench=filler");
  const deadline = Date.now() + POD_BUDGET_MS;
  let created = 0;
  await inParallel(
    Array.from({ length: EXTRA_PODS }),
    PARALLEL,
    async (_, index) => {
      await cluster.core.createNamespacedPod({
        namespace: namespaces[index % namespaces.length]!,
        body: { metadata: { name: `filler-${index}`, labels: { "kk-bench": "filler" } }, spec: { nodeName: nodes[index % NODES]!, containers: [{ name: "app", image: "app:1" }] } },
      });
      if (++created % 1000 === 0) say(`${created} extra pods created, ${fillers.count} Running`);
    },
    () => Date.now() > deadline,
  );
  const createMs = performance.now() - started;
  say(`${created} extra pods created in ${seconds(createMs)}; waiting until they run`);
  await waitUntil(`${created} extra pods Running`, Math.max(120_000, deadline - Date.now()), async () => fillers.count >= created).catch((error) => say(String(error)));
  const runningMs = performance.now() - started;
  const fillersRunning = fillers.count;
  fillers.stop();
  const runningTotal = (await cluster.core.listPodForAllNamespaces({ fieldSelector: "status.phase=Running" })).items.length;
  say(`${fillersRunning} extra pods Running after ${seconds(runningMs)}; ${runningTotal} Running pods in the cluster`);
  const dryAfter = await dryRuns(baseArgs, kubeconfig, auditLog);
  say(`dry run (${runningTotal} pods): ${seconds(dryAfter.ms)}, ${mib(dryAfter.rss)}`);

  return [
    [`dry run, ${context.pods} app pods: wall / peak RSS (median of ${DRY_RUNS})`, `${seconds(dryBefore.ms)} / ${mib(dryBefore.rss)} (${dryBefore.requests} requests, the pod list ${dryBefore.podListMs} ms on the server; plan: ${dryBefore.plan})`],
    ["extra bare pods", `${created} of ${EXTRA_PODS} created in ${seconds(createMs)} (${(created / (createMs / 1000)).toFixed(0)} pods/s, ${PARALLEL} at once); ${fillersRunning} Running after ${seconds(runningMs)}`],
    [`dry run, ${runningTotal} Running pods: wall / peak RSS (median of ${DRY_RUNS})`, `${seconds(dryAfter.ms)} / ${mib(dryAfter.rss)} (${dryAfter.requests} requests, the pod list ${dryAfter.podListMs} ms on the server; plan: ${dryAfter.plan})`],
  ];
}

interface BackupRun {
  name: string;
  ms: number;
  jobs: number;
  requests: number;
  rss: number;
  maxUnfinished: number;
  maxOnOneNode: number;
  figures: [string, string][];
  audit: AuditSummary;
  samples: string[];
}

/** One backup run over every PVC, its figures read from the audit log and a watch on its Jobs. */
async function backupRun(cluster: Cluster, mode: { name: string }, args: string[], context: { kubeconfig: string; auditLog: string; namespaces: string[]; pvcs: number }): Promise<BackupRun> {
  const { kubeconfig, auditLog, namespaces, pvcs } = context;
  const jobs = await observeJobs(cluster, new Set(namespaces));
  await Bun.sleep(500);
  const before = auditLogSize(auditLog);
  const componentLogs = componentLogSizes(dirname(auditLog));
  say(`operator-backup, ${mode.name}, over ${pvcs} PVCs`);
  const backup = await runOperator(args, kubeconfig);
  await Bun.sleep(1500); // the watch's ResponseComplete lands after the connection closes
  jobs.stop();
  const audit = await readAudit(auditLog, before, OPERATOR_USER);
  const throttling = await throttlingLines(componentLogs);
  const logs = parseLogs(backup.stdout);
  const leftJobs = (await cluster.batch.listJobForAllNamespaces({ labelSelector: MANAGED })).items.filter((job) => namespaces.includes(job.metadata!.namespace!)).length;
  const leftSecrets = (await cluster.core.listSecretForAllNamespaces({ labelSelector: MANAGED })).items.filter((secret) => namespaces.includes(secret.metadata!.namespace!)).length;
  const logFile = join(tmpdir(), `kk-bench-operator-backup-${MODES.findIndex((entry) => entry.name === mode.name) + 1}.log`);
  await Bun.write(logFile, backup.stdout + backup.stderr);
  say(`backup run: exit ${backup.exitCode} in ${seconds(backup.ms)}, ${audit.total} requests; log in ${logFile}`);
  if (backup.exitCode !== 0) say(`operator-backup failed:\n${backup.stderr.slice(-3000)}${backup.stdout.slice(-3000)}`);
  const at = (epoch?: number) => (epoch === undefined ? "?" : seconds(epoch - backup.startedAt));
  const lifecycle = jobs.lifecycle();
  const figures: [string, string][] = [
    [`${mode.name}: exit code`, `${backup.exitCode} (${logs.succeeded} of ${pvcs} PVCs reported a success, ${logs.warnings} warn / ${logs.errors} error lines)`],
    [`${mode.name}: wall time`, `${seconds(backup.ms)} (${(pvcs / (backup.ms / 1000)).toFixed(1)} PVCs/s)`],
    [`${mode.name}: phases (from spawn)`, `1st request at ${at(audit.firstAt)}, 1st Job created at ${at(audit.firstJobCreateAt)}, last request at ${at(audit.lastAt)}, exit at ${seconds(backup.ms)}`],
    [`${mode.name}: API requests`, `${audit.total} (${(audit.total / pvcs).toFixed(2)} per PVC); ${failures(audit)} non-2xx; user agent ${audit.userAgents.join(", ") || "?"}`],
    [`${mode.name}: Job lifecycle (seen by a watch)`, `created → Complete ${lifecycleText(lifecycle.running)}; Complete → deleted by the operator ${lifecycleText(lifecycle.reaction)}`],
    [`${mode.name}: client-side throttling lines in the control plane's logs`, Object.entries(throttling).map(([file, count]) => `${file} ${count}`).join(", ") || "none"],
    [`${mode.name}: Jobs created; most unfinished at once, over the run / on one node`, `${jobs.seen}; ${jobs.maxUnfinished} / ${jobs.maxOnOneNode} (left after the run: ${leftJobs} Jobs, ${leftSecrets} Secrets)`],
    [`${mode.name}: peak RSS`, mib(backup.rss)],
  ];
  return { name: mode.name, ms: backup.ms, jobs: jobs.seen, requests: audit.total, rss: backup.rss, maxUnfinished: jobs.maxUnfinished, maxOnOneNode: jobs.maxOnOneNode, figures, audit, samples: logs.samples };
}

function printFigures(figures: [string, string][], runs: BackupRun[]): void {
  const pvcs = NAMESPACES * PVCS_PER_NAMESPACE;
  console.log(`operator-backup benchmark (bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, scripts/operator-backup.ts from source)\n`);
  console.log("| way | wall time | ratio to the first | Jobs created | API requests per PVC | peak RSS | most Jobs at once / on one node |\n|---|---|---|---|---|---|---|");
  for (const run of runs) {
    console.log(`| ${run.name} | ${seconds(run.ms)} | ${(run.ms / runs[0]!.ms).toFixed(2)} | ${run.jobs} | ${(run.requests / pvcs).toFixed(2)} | ${mib(run.rss)} | ${run.maxUnfinished} / ${run.maxOnOneNode} |`);
  }
  console.log("\n| measure | value |\n|---|---|");
  for (const [name, value] of figures) console.log(`| ${name} | ${value} |`);
  for (const run of runs) {
    console.log(`\nAPI requests, ${run.name} (audit log, stage RequestReceived, user ${OPERATOR_USER}):\n`);
    console.log("| verb | resource | scope | requests | per PVC | non-2xx | server time mean / max |\n|---|---|---|---|---|---|---|");
    for (const kind of run.audit.kinds) {
      const bad = Object.entries(kind.failures).map(([code, count]) => `${count}× ${code}`).join(", ") || "0";
      console.log(`| ${kind.verb} | ${kind.resource} | ${kind.scope} | ${kind.count} | ${(kind.count / pvcs).toFixed(2)} | ${bad} | ${kind.meanMs.toFixed(1)} / ${kind.maxMs.toFixed(0)} ms |`);
    }
    if (run.audit.unfinished) console.log(`\n(${run.audit.unfinished} requests had no ResponseComplete when the log was read)`);
    if (run.samples.length) console.log(`\nwarn/error lines (first ${run.samples.length}):\n${run.samples.map((line) => `    ${line}`).join("\n")}`);
  }
  console.log(`\nrerun: KK_TOOLS_BIN=${process.env.KK_TOOLS_BIN} npm run bench:operator   (or: bun test/bench/operator-backup.bench.ts)`);
}

function nodeBody(name: string): V1Node {
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" } },
    spec: { taints: [] },
  };
}

function isReady(node: V1Node): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  return ready && !node.spec?.taints?.some((taint) => taint.key.startsWith("node.kubernetes.io/"));
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
    await Bun.sleep(250);
  }
}

type Cluster = TestCluster;

/** How many pods matching the selector are Running, kept up to date by a watch (re-established when it ends). */
function runningPods(cluster: Cluster, labelSelector: string) {
  const running = new Set<string>();
  let abort: AbortController | undefined;
  let stopped = false;
  const start = async () => {
    abort = await new Watch(cluster.kc).watch(
      "/api/v1/pods",
      { labelSelector },
      (phase, pod: V1Pod) => {
        const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
        if (phase !== "DELETED" && pod.status?.phase === "Running") running.add(key);
        else running.delete(key);
      },
      () => void (stopped || setTimeout(() => void start().catch(() => {}), 200)),
    );
  };
  void start();
  return {
    get count() {
      return running.size;
    },
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}

const finished = (job: V1Job) => (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");

/** The most kopia-k8s Jobs ever unfinished at once in these namespaces (watch from before the run). */
async function observeJobs(cluster: Cluster, namespaces: Set<string>) {
  const unfinished = new Set<string>();
  const seen = new Set<string>();
  /** When this watch saw each Job created, finished (Complete/Failed) and deleted (Date.now()). */
  const times = new Map<string, { added: number; node?: string; finished?: number; deleted?: number }>();
  let maxUnfinished = 0;
  let maxOnOneNode = 0;
  let stopped = false;
  const pinnedNode = (key: string) => times.get(key)?.node;
  const abort = await new Watch(cluster.kc).watch(
    "/apis/batch/v1/jobs",
    { labelSelector: MANAGED },
    (phase, job: V1Job) => {
      if (!namespaces.has(job.metadata?.namespace ?? "")) return;
      const key = `${job.metadata!.namespace}/${job.metadata!.name}`;
      seen.add(key);
      const now = Date.now();
      const time = times.get(key) ?? { added: now, node: job.metadata?.annotations?.["kopia-k8s.io/node"] };
      times.set(key, time);
      if (finished(job)) time.finished ??= now;
      if (phase === "DELETED") time.deleted ??= now;
      if (phase === "DELETED" || finished(job)) unfinished.delete(key);
      else unfinished.add(key);
      maxUnfinished = Math.max(maxUnfinished, unfinished.size);
      const node = time.node;
      if (node) maxOnOneNode = Math.max(maxOnOneNode, [...unfinished].filter((other) => pinnedNode(other) === node).length);
    },
    (error) => error && !stopped && say(`job watch ended early, the figure may be low: ${error}`),
  );
  return {
    get maxUnfinished() {
      return maxUnfinished;
    },
    /** Among Jobs pinned to a node (their kopia-k8s.io/node annotation): the most unfinished on one node at once. */
    get maxOnOneNode() {
      return maxOnOneNode;
    },
    get seen() {
      return seen.size;
    },
    /** Mean and max of created → finished (the cluster's part) and finished → deleted (the operator's reaction), in ms. */
    lifecycle() {
      const all = [...times.values()];
      const stats = (values: number[]) => ({ mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length), max: Math.max(0, ...values) });
      return {
        running: stats(all.filter((t) => t.finished).map((t) => t.finished! - t.added)),
        reaction: stats(all.filter((t) => t.finished && t.deleted).map((t) => t.deleted! - t.finished!)),
      };
    },
    stop() {
      stopped = true;
      abort.abort();
    },
  };
}

/** A kubeconfig for a ServiceAccount bound to cluster-admin: the audit policy logs this user only. */
async function operatorKubeconfig(cluster: Cluster): Promise<string> {
  await cluster.core.createNamespace({ body: { metadata: { name: OPERATOR_NS } } });
  await waitUntil(`ServiceAccount default in ${OPERATOR_NS}`, 30_000, async () => Boolean(await cluster.core.readNamespacedServiceAccount({ name: "default", namespace: OPERATOR_NS })));
  await cluster.core.createNamespacedServiceAccount({ namespace: OPERATOR_NS, body: { metadata: { name: OPERATOR_SA } } });
  await cluster.kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: OPERATOR_NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: OPERATOR_SA, namespace: OPERATOR_NS }],
    },
  });
  const token = await cluster.core.createNamespacedServiceAccountToken({ name: OPERATOR_SA, namespace: OPERATOR_NS, body: { spec: { audiences: [], expirationSeconds: 7200 } } });
  const server = cluster.kc.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ ...server, name: "bench" }],
    users: [{ name: OPERATOR_SA, token: token.status!.token }],
    contexts: [{ name: "bench", cluster: "bench", user: OPERATOR_SA, namespace: OPERATOR_NS }],
    currentContext: "bench",
  });
  const path = join(work, "operator-kubeconfig.yaml");
  await Bun.write(path, config.exportConfig());
  return path;
}

interface OperatorRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** Peak RSS in bytes (the kernel's rusage of the child). */
  rss: number;
  /** Date.now() at spawn, to place audit timestamps. */
  startedAt: number;
}

async function runOperator(args: string[], kubeconfig: string): Promise<OperatorRun> {
  const startedAt = Date.now();
  const started = performance.now();
  const child = Bun.spawn([process.execPath, join(root, "scripts/operator-backup.ts"), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, KUBECONFIG: kubeconfig, KOPIA_PASSWORD: TEST_PASSWORD },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const ms = performance.now() - started;
  return { exitCode, stdout, stderr, ms, rss: Number(child.resourceUsage()?.maxRSS ?? 0), startedAt };
}

/** `--dry-run`, DRY_RUNS times: median wall time and peak RSS, the requests of the last one, its plan line. */
async function dryRuns(args: string[], kubeconfig: string, auditLog: string) {
  const runs: OperatorRun[] = [];
  let audit: AuditSummary | undefined;
  for (let index = 0; index < DRY_RUNS; index++) {
    const before = auditLogSize(auditLog);
    const run = await runOperator([...args, "--dry-run"], kubeconfig);
    if (run.exitCode !== 0) throw new Error(`--dry-run failed (exit ${run.exitCode}):\n${run.stderr}${run.stdout.slice(-2000)}`);
    runs.push(run);
    await Bun.sleep(300);
    audit = await readAudit(auditLog, before, OPERATOR_USER);
  }
  const planLine = /plan for run [^:]+: ([^"]+)/.exec(runs.at(-1)!.stdout)?.[1] ?? "?";
  const podList = audit?.kinds.find((kind) => kind.verb === "list" && kind.resource === "pods");
  return { ms: median(runs.map((run) => run.ms)), rss: median(runs.map((run) => run.rss)), requests: audit?.total ?? 0, podListMs: podList?.maxMs ?? 0, plan: planLine };
}

function parseLogs(stdout: string) {
  let warnings = 0;
  let errors = 0;
  let succeeded = 0;
  const samples: string[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { level: string; msg: string };
    if (entry.level === "success" && /^\d+ of \d+ done: /.test(entry.msg)) succeeded++;
    if (entry.level === "warn") warnings++;
    if (entry.level === "error" || entry.level === "fatal") errors++;
    if ((entry.level === "warn" || entry.level === "error" || entry.level === "fatal") && samples.length < 10) samples.push(`${entry.level}: ${entry.msg.slice(0, 300)}`);
  }
  return { warnings, errors, succeeded, samples };
}

function componentLogSizes(logDir: string): Map<string, number> {
  return new Map(readdirSync(logDir).filter((file) => file !== "audit.log").map((file) => [join(logDir, file), auditLogSize(join(logDir, file))]));
}

/** client-go's "Waited for … due to client-side throttling" lines written since the sizes were taken (only waits over 1 s are logged by default). */
async function throttlingLines(sizes: Map<string, number>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [path, size] of sizes) {
    const count = (await Bun.file(path).slice(size).text()).split("\n").filter((line) => line.includes("client-side throttling")).length;
    if (count) counts[basename(path)] = count;
  }
  return counts;
}

function lifecycleText(stats: { mean: number; max: number }): string {
  return `mean ${stats.mean.toFixed(0)} ms, max ${stats.max.toFixed(0)} ms`;
}

function failures(audit: AuditSummary): number {
  return audit.kinds.reduce((sum, kind) => sum + Object.values(kind.failures).reduce((a, b) => a + b, 0), 0);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  say("cleaning up (namespaces, cluster)");
  await runCleanups();
}
process.exit(exitCode);
