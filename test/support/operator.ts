import { onTestFinished } from "bun:test";
import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { join } from "node:path";
import { TEST_PASSWORD } from "./kopia.ts";
import { tempDir } from "./processes.ts";
import { runScript, startScript, type ScriptRun } from "./scripts.ts";
import type { TestCluster } from "./cluster.ts";

export const RUN_ID_LABEL = "kopia-k8s.io/run-id";

/** operator-backup against the test cluster, limited to the given namespaces, no maintenance unless asked. */
export async function operatorArgs(namespaces: string[], extra: string[] = []): Promise<string[]> {
  const repository = join(await tempDir("kk-op-repo-"), "repo");
  return [...namespaces.flatMap((namespace) => ["--namespace", namespace]), "--repository", `filesystem://${repository}`, "--no-maintenance", ...extra];
}

export function operatorEnv(cluster: TestCluster, extra: Record<string, string | undefined> = {}) {
  return { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD, ...extra };
}

export async function runOperator(cluster: TestCluster, namespaces: string[], extra: string[] = [], env: Record<string, string | undefined> = {}): Promise<ScriptRun> {
  return runScript("operator-backup", await operatorArgs(namespaces, extra), operatorEnv(cluster, env));
}

/**
 * Runs operator-backup while watching for Jobs: `jobsCreated` counts every Job it made in these
 * namespaces, also those it deleted again (an empty namespace afterwards proves nothing).
 */
export async function runOperatorObserved(cluster: TestCluster, namespaces: string[], extra: string[] = [], env: Record<string, string | undefined> = {}) {
  const observed = await observeRuns(cluster, namespaces);
  const run = await runOperator(cluster, namespaces, extra, env);
  observed.stop();
  return { run, jobsCreated: observed.jobs.size };
}

/** Starts operator-backup in the background; killed when the calling test ends, so that a test
 * failing before it stops the run leaves no process behind (still making Jobs). */
export async function startOperator(cluster: TestCluster, namespaces: string[], extra: string[] = [], env: Record<string, string | undefined> = {}) {
  const child = startScript("operator-backup", await operatorArgs(namespaces, extra), operatorEnv(cluster, env));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

const pinnedNode = (job: V1Job) => job.metadata?.annotations?.["kopia-k8s.io/node"];
const finished = (job: V1Job) => (job.status?.conditions ?? []).some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");

/**
 * Watches kopia-k8s Jobs and their pods in a namespace set while a run goes on: the most Jobs ever
 * unfinished at once, every Job seen, and the node each Job's pod was scheduled to.
 */
export async function observeRuns(cluster: TestCluster, namespaces: string[]) {
  const unfinished = new Set<string>();
  const jobs = new Map<string, V1Job>();
  const podNodes = new Map<string, string>();
  let maxUnfinished = 0;
  /** Per node the Job is pinned to (its kopia-k8s.io/node annotation): the most unfinished at once. */
  const maxUnfinishedByNode = new Map<string, number>();
  const inScope = (namespace?: string) => namespaces.includes(namespace ?? "");
  const watch = new Watch(cluster.kc);
  const jobWatch = await watch.watch("/apis/batch/v1/jobs", { labelSelector: "app.kubernetes.io/managed-by=kopia-k8s" }, (phase, job: V1Job) => {
    if (!inScope(job.metadata?.namespace)) return;
    const key = `${job.metadata!.namespace}/${job.metadata!.name}`;
    jobs.set(key, job);
    if (phase === "DELETED" || finished(job)) unfinished.delete(key);
    else unfinished.add(key);
    maxUnfinished = Math.max(maxUnfinished, unfinished.size);
    for (const node of new Set([...unfinished].map((name) => pinnedNode(jobs.get(name)!)))) {
      if (!node) continue;
      const count = [...unfinished].filter((name) => pinnedNode(jobs.get(name)!) === node).length;
      maxUnfinishedByNode.set(node, Math.max(maxUnfinishedByNode.get(node) ?? 0, count));
    }
  }, () => {});
  const podWatch = await watch.watch("/api/v1/pods", { labelSelector: "app.kubernetes.io/managed-by=kopia-k8s" }, (_phase, pod: V1Pod) => {
    if (!inScope(pod.metadata?.namespace) || !pod.spec?.nodeName) return;
    const jobName = pod.metadata?.labels?.["batch.kubernetes.io/job-name"];
    if (jobName) podNodes.set(`${pod.metadata!.namespace}/${jobName}`, pod.spec.nodeName);
  }, () => {});
  return {
    get maxUnfinished() {
      return maxUnfinished;
    },
    maxUnfinishedByNode,
    jobs,
    podNodes,
    /** The node the pod of the Job for this PVC ran on. */
    nodeOfPvc(namespace: string, pvc: string): string | undefined {
      const job = [...jobs.values()].find((j) => j.metadata?.namespace === namespace && j.metadata?.annotations?.["kopia-k8s.io/pvc"] === pvc);
      return job ? podNodes.get(`${namespace}/${job.metadata!.name}`) : undefined;
    },
    stop() {
      jobWatch.abort();
      podWatch.abort();
    },
  };
}

/** A running pod that mounts the given PVCs (kwok marks it Running once it is scheduled).
 * `node` pins it there without the scheduler (spec.nodeName). */
export async function createAppPod(cluster: TestCluster, namespace: string, name: string, pvcs: string[], options: { labels?: Record<string, string>; annotations?: Record<string, string>; tolerateTaint?: boolean; containers?: string[]; node?: string } = {}): Promise<V1Pod> {
  await cluster.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, namespace, ...(options.labels ? { labels: options.labels } : {}), ...(options.annotations ? { annotations: options.annotations } : {}) },
      spec: {
        containers: (options.containers ?? ["app"]).map((container) => ({ name: container, image: "app:1" })),
        volumes: pvcs.map((claimName, index) => ({ name: `v${index}`, persistentVolumeClaim: { claimName } })),
        ...(options.node ? { nodeName: options.node } : {}),
        ...(options.tolerateTaint ? { tolerations: [{ key: cluster.taint.key, operator: "Equal", value: cluster.taint.value, effect: cluster.taint.effect }] } : {}),
      },
    },
  });
  return waitForRunning(cluster, namespace, name);
}

export async function waitForRunning(cluster: TestCluster, namespace: string, name: string, timeoutMs = 30_000): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pod = await cluster.core.readNamespacedPod({ name, namespace });
    if (pod.status?.phase === "Running") return pod;
    await Bun.sleep(100);
  }
  throw new Error(`pod ${namespace}/${name} never became Running`);
}

export async function jobsIn(cluster: TestCluster, namespace: string): Promise<V1Job[]> {
  return (await cluster.batch.listNamespacedJob({ namespace, labelSelector: "app.kubernetes.io/managed-by=kopia-k8s" })).items;
}
