/**
 * The shipped CronJob, end to end on the real node (issue 19). deploy/ is applied with
 * `kubectl apply -k` through the overlay test/e2e/cronjob-overlay (image, node, network) plus a layer
 * the test writes for its run (API server address, repository Secret, namespaces); each run is
 * `kubectl create job --from=cronjob/operator-backup`. operator-backup then runs as a pod of the real
 * image on the real node (kubelet + containerd), as the shipped ServiceAccount with the shipped
 * RBAC, non-root, on a read-only root filesystem, logging JSON, and from there runs the hooks and the
 * init, backup and maintenance Jobs.
 *
 * Reaching the API server: the test node has no Service routing (no kube-proxy), so nothing answers
 * on the `kubernetes` Service's address. The overlay runs the operator pod with hostNetwork, and the
 * test's layer sets KUBERNETES_SERVICE_HOST/PORT to the API server's loopback address. The pod still
 * authenticates with its own projected service-account token and trusts the cluster CA from the same
 * projected volume, through the in-cluster configuration code a real cluster uses: no kubeconfig
 * exists in the pod, so a run that works used the ServiceAccount.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ApiException, PatchStrategy, setHeaderOptions, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { TestCluster } from "../support/cluster.ts";
import { describeTree } from "../support/corpus.ts";
import { rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { kubectl as kubectlAt } from "../support/kubectl.ts";
import { jobsIn } from "../support/operator.ts";
import { repoRoot, tempDir, waitFor } from "../support/processes.ts";
import type { RealNode } from "../support/real-node.ts";
import { deleteAppNamespaces, deployApp, namespaceWithVolume, realNodeWithImages, watchPods } from "../support/real-node-e2e.ts";

/** The image cronjob-overlay/kustomization.yaml names (and test/tools/image.sh builds). */
const IMAGE = "localhost/kopia-k8s:0.1.0";
const OVERLAY = join(repoRoot, "test", "e2e", "cronjob-overlay");
/** deploy/'s namespace: the operator's, and so the maintenance namespace. */
const HOME = "kopia-k8s";
const MANAGED = "app.kubernetes.io/managed-by=kopia-k8s";

let cluster: TestCluster;
let node: RealNode;
let repository: string;
let layer: string;
const figures: Record<string, string> = {};
const kubectl = (...args: string[]) => kubectlAt(cluster.kubeconfigPath, ...args);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * Cordons the kwok nodes (or lifts that): while this file runs only the real node takes new pods, so
 * a Job the scheduler places freely (maintenance) really runs instead of being "run" by kwok.
 * Backup Jobs are pinned to their app's node anyway (and tolerate a cordon).
 */
async function cordonKwokNodes(unschedulable: boolean): Promise<void> {
  for (const name of cluster.nodes) await cluster.core.patchNode({ name, body: { spec: { unschedulable } } }, mergePatch);
}

beforeAll(async () => {
  const started = performance.now();
  ({ cluster, node } = await realNodeWithImages(IMAGE));
  figures["real node start (s)"] = (node.timings.startMs / 1000).toFixed(1);
  repository = join(await tempDir("kk-cron-repo-"), "repo");
  mkdirSync(repository); // a hostPath volume of type Directory: it must exist on the node
  layer = await tempDir("kk-cron-layer-");
  // test/deploy deletes the same namespace without waiting; applying into a terminating one fails.
  await waitFor(`namespace ${HOME} from an earlier test to be gone`, () => cluster.core.readNamespace({ name: HOME }).then(() => false, (error) => error instanceof ApiException && error.code === 404), 120_000);
  await cordonKwokNodes(true);
  figures["set-up (s)"] = ((performance.now() - started) / 1000).toFixed(1);
}, 45 * 60_000);

afterAll(async () => {
  const started = performance.now();
  if (cluster) {
    // Before the node stops: pods on a node that is gone would keep a namespace terminating.
    if (layer && existsSync(join(layer, "kustomization.yaml"))) kubectl("delete", "-k", layer, "--ignore-not-found", "--timeout=60s");
    deleteAppNamespaces(cluster);
    await cordonKwokNodes(false);
  }
  await node?.stop();
  figures["teardown (s)"] = ((performance.now() - started) / 1000).toFixed(1);
  console.error(`cronjob e2e figures: ${JSON.stringify(figures)}`);
});

/** Makes a folder a read-only bind mount of itself (undone by umount). */
function readOnly(path: string): void {
  for (const args of [["--bind", path, path], ["-o", "remount,ro,bind", path]]) {
    const mount = Bun.spawnSync(["mount", ...args], { stderr: "pipe" });
    if (mount.exitCode !== 0) throw new Error(`mount ${args.join(" ")} failed: ${mount.stderr}`);
  }
}

/** deploy/ through the overlay, with this test's layer on top: the repository Secret, the API server's address, the namespaces to back up. */
function applyDeploy(namespaces: string[]): void {
  const server = new URL(cluster.kc.getCurrentCluster()!.server);
  const env = [
    { name: "KUBERNETES_SERVICE_HOST", value: server.hostname },
    { name: "KUBERNETES_SERVICE_PORT", value: server.port },
    // The shared cluster holds other tests' namespaces too.
    { name: "KK_NAMESPACES", value: namespaces.join(",") },
  ];
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: [relative(layer, OVERLAY)], // kustomize refuses an absolute path
    secretGenerator: [
      {
        name: "kopia-repository",
        behavior: "replace",
        options: { disableNameSuffixHash: true },
        literals: [`KK_REPOSITORY=filesystem://${repository}`, `KOPIA_PASSWORD=${TEST_PASSWORD}`],
      },
    ],
    patches: [
      {
        target: { group: "batch", version: "v1", kind: "CronJob", name: "operator-backup" },
        patch: JSON.stringify([{ op: "add", path: "/spec/jobTemplate/spec/template/spec/containers/0/env", value: env }]),
      },
    ],
  };
  writeFileSync(join(layer, "kustomization.yaml"), JSON.stringify(kustomization, null, 2)); // JSON is YAML
  const applied = kubectl("apply", "-k", layer);
  expect(applied.exitCode, applied.stderr).toBe(0);
}

/** `kubectl create job --from=cronjob/operator-backup`, as one does to run a CronJob now. */
function startFromCronJob(): string {
  const name = `operator-backup-now-${Math.random().toString(36).slice(2, 8)}`;
  const created = kubectl("-n", HOME, "create", "job", name, "--from=cronjob/operator-backup");
  expect(created.exitCode, created.stderr).toBe(0);
  return name;
}

const condition = (job: V1Job, type: string) => job.status?.conditions?.some((c) => c.type === type && c.status === "True") ?? false;
const isFinished = (job: V1Job) => condition(job, "Complete") || condition(job, "Failed");

async function operatorPod(jobName: string): Promise<V1Pod | undefined> {
  return (await cluster.podsOfJob(HOME, jobName))[0];
}

/** Waits until the operator's Job has finished; its pod's log, on a timeout too. */
async function finishedJob(name: string, timeoutMs = 240_000): Promise<V1Job> {
  let job: V1Job | undefined;
  await waitFor(`Job ${HOME}/${name} to finish`, async () => {
    job = await cluster.batch.readNamespacedJob({ name, namespace: HOME });
    return isFinished(job);
  }, timeoutMs).catch(async (error) => {
    const pod = await operatorPod(name);
    const log = pod ? await cluster.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: HOME }).catch((e) => String(e)) : "no pod";
    throw new Error(`${(error as Error).message}\npod: ${JSON.stringify(pod?.status)}\nlog:\n${log}\n${node.logs(30)}`);
  });
  return job!;
}

interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** Every line of the operator's log as JSON: one that does not parse fails the test. */
function jsonLines(log: string): LogLine[] {
  return log
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const parsed = JSON.parse(line) as LogLine;
      expect(Object.keys(parsed).slice(0, 3)).toEqual(["time", "level", "msg"]);
      return parsed;
    });
}

const runIdOf = (lines: LogLine[]) => /^run ([0-9a-f]+): discovering/.exec(lines.find((line) => line.msg.startsWith("run "))?.msg ?? "")?.[1];

/** What a run leaves besides failed Jobs: nothing of its own (the Jobs' pods and Secrets go a moment after the Jobs). */
async function expectNothingLeftBut(namespace: string, runId: string, keptJobs: string[]): Promise<void> {
  const ofRun = `kopia-k8s.io/run-id=${runId}`;
  const state = async () => ({
    jobs: (await cluster.batch.listJobForAllNamespaces({ labelSelector: ofRun })).items.map((job) => `${job.metadata!.namespace}/${job.metadata!.name}`).sort(),
    pods: (await cluster.core.listPodForAllNamespaces({ labelSelector: ofRun })).items.filter((pod) => !keptJobs.includes(`${pod.metadata!.namespace}/${pod.metadata!.labels?.["batch.kubernetes.io/job-name"]}`)).map((pod) => pod.metadata!.name),
    secrets: [
      ...(await cluster.core.listNamespacedSecret({ namespace })).items.map((secret) => `${namespace}/${secret.metadata!.name}`),
      ...(await cluster.core.listNamespacedSecret({ namespace: HOME })).items.map((secret) => `${HOME}/${secret.metadata!.name}`),
    ],
  });
  const wanted = { jobs: [...keptJobs].sort(), pods: [], secrets: [`${HOME}/kopia-repository`] };
  await waitFor("the run's Jobs, pods and Secrets to be gone", async () => Bun.deepEquals(await state(), wanted), 60_000).catch(() => {});
  expect(await state()).toEqual(wanted);
}

describe("the shipped CronJob (kubectl apply -k deploy/) on a real node", () => {
  test("a Job from the CronJob runs operator-backup in the image as the ServiceAccount: hooks in the app, backup and maintenance Jobs on the node, a snapshot that restores byte for byte, JSON logs with the summary, nothing left", async () => {
    const started = performance.now();
    const { namespace, pvc } = await namespaceWithVolume(cluster, node, "cron");
    mkdirSync(join(pvc.hostPath, "uploads"), { recursive: true });
    writeFileSync(join(pvc.hostPath, "uploads", "photo.bin"), crypto.getRandomValues(new Uint8Array(200_000)));
    writeFileSync(join(pvc.hostPath, "config.yaml"), "replicas: 3\n");
    const app = await deployApp(cluster, node, namespace, {
      "kopia-k8s.io/pre-backup": 'date > /data/dump.sql && echo "dumped in $HOSTNAME as $APP_MARKER"',
      "kopia-k8s.io/post-backup": 'echo "post-backup in $HOSTNAME"',
    });
    const appPod = app.metadata!.name!;
    applyDeploy([namespace]);

    const backupPods = await watchPods(cluster, namespace);
    const homePods = await watchPods(cluster, HOME);
    const name = startFromCronJob();
    const job = await finishedJob(name);
    backupPods.stop();
    homePods.stop();
    figures["successful run (s)"] = ((performance.now() - started) / 1000).toFixed(1);

    const pod = (await operatorPod(name))!;
    const log = await cluster.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: HOME });
    expect(condition(job, "Complete"), log).toBe(true);
    // The operator ran as the CronJob says: on the real node, in the image, as the ServiceAccount, non-root, read-only root.
    expect(pod.spec?.nodeName).toBe(node.name);
    expect(pod.spec?.serviceAccountName).toBe("operator-backup");
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.spec?.containers[0]?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    const status = pod.status?.containerStatuses?.[0];
    expect(status?.containerID).toStartWith("containerd://");
    expect(status?.image).toContain("kopia-k8s");
    expect(status?.state?.terminated?.exitCode).toBe(0);

    // Every log line is JSON; it names the in-cluster API server address, the hooks' output, the summary.
    const lines = jsonLines(log);
    const server = new URL(cluster.kc.getCurrentCluster()!.server);
    expect(lines[0]?.msg).toContain(`discovering pods and volumes on https://${server.hostname}:${server.port}`);
    const messages = lines.map((line) => line.msg);
    expect(messages).toContain(`[${namespace}/${appPod}] dumped in ${appPod} as inside-${namespace}`);
    expect(messages).toContain(`[${namespace}/${appPod}] post-backup in ${appPod}`);
    const summary = lines.find((line) => line.msg.startsWith("summary of run"));
    expect(summary?.rows).toEqual([expect.objectContaining({ namespace, pvc: "data", node: node.name, result: "success" })]);
    expect(lines.at(-1)).toMatchObject({ level: "success", msg: "all 1 backups succeeded" });

    // Its init, backup and maintenance Jobs ran in the image on the real node.
    const [backup] = backupPods.pods();
    expect(backupPods.pods()).toHaveLength(1);
    expect(backup?.spec?.nodeName).toBe(node.name);
    expect(backup?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0 });
    expect(JSON.parse(backup?.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "{}")).toMatchObject({ result: "success" });
    const runId = runIdOf(lines)!;
    const repositoryPods = homePods.pods().filter((p) => p.metadata?.labels?.["kopia-k8s.io/run-id"] === runId);
    expect(repositoryPods.map((p) => p.metadata?.labels?.["kopia-k8s.io/role"]).sort()).toEqual(["init", "maintenance"]);
    for (const p of repositoryPods) {
      expect(p.spec?.nodeName).toBe(node.name);
      expect(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
      expect(p.status?.containerStatuses?.[0]?.containerID).toStartWith("containerd://");
    }

    // The snapshot restores to the volume's files, byte for byte.
    const kopia = await rawKopia(["filesystem", "--path", repository]);
    const snapshots = await kopia.snapshots(`data@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    const restored = join(await tempDir("kk-cron-restore-"), "data");
    await kopia.restore(snapshots[0]!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(pvc.hostPath));

    await expectNothingLeftBut(namespace, runId, []);
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  }, 600_000);

  test("a backup that fails (the repository's storage refuses writes) fails the operator's Job, exit 7, the reason in its log; the failed Jobs are kept and found by the label to alert on", async () => {
    const { namespace, pvc } = await namespaceWithVolume(cluster, node, "cron-fail");
    writeFileSync(join(pvc.hostPath, "file.txt"), "data\n");
    const app = await deployApp(cluster, node, namespace, { "kopia-k8s.io/post-backup": "echo thawed" });
    applyDeploy([namespace]);
    // The repository exists (the first test made it); make sure when this test runs alone.
    if (!existsSync(join(repository, "kopia.repository.f"))) await (await rawKopia([])).run(["repository", "create", "filesystem", "--path", repository]);
    // A read-only mount of the repository folder: kopia connects (the init Job succeeds) but cannot write.
    readOnly(repository);
    let job: V1Job;
    const name = startFromCronJob();
    try {
      job = await finishedJob(name);
    } finally {
      Bun.spawnSync(["umount", repository]);
    }

    const pod = (await operatorPod(name))!;
    const log = await cluster.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: HOME });
    expect(condition(job, "Failed"), log).toBe(true);
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(7);
    const lines = jsonLines(log);
    const done = lines.find((line) => line.msg.startsWith("1 of 1 done"));
    expect(done).toMatchObject({ level: "error" });
    expect(done?.msg).toStartWith(`1 of 1 done: ${namespace}/data failed on ${node.name}: `);
    expect(done?.msg).toContain("read-only file system");
    expect(lines.map((line) => line.msg)).toContain(`[${namespace}/${app.metadata!.name}] thawed`); // post-backup hooks run after a failed backup too
    expect(lines.at(-1)).toMatchObject({ level: "error" });
    expect(lines.at(-1)?.msg).toMatch(/^1 of 1 backups failed.*; failed Jobs are kept for inspection$/);

    // "Alert on failed Jobs with label app.kubernetes.io/managed-by=kopia-k8s" (README) finds the operator's Job and the backup's.
    const runId = runIdOf(lines)!;
    const failed = (await cluster.batch.listJobForAllNamespaces({ labelSelector: MANAGED })).items.filter((j) => condition(j, "Failed"));
    const failedNames = failed.map((j) => `${j.metadata!.namespace}/${j.metadata!.name}`);
    expect(failedNames).toContain(`${HOME}/${name}`);
    const ofRun = failed.filter((j) => j.metadata?.labels?.["kopia-k8s.io/run-id"] === runId);
    expect(ofRun.map((j) => `${j.metadata!.namespace}/${j.metadata!.labels!["kopia-k8s.io/role"]}`)).toContain(`${namespace}/backup`);
    // The backup Job's own log (kept for kubectl logs) is JSON too, and says why.
    const backupJob = ofRun.find((j) => j.metadata!.namespace === namespace)!;
    const [backupPod] = await cluster.podsOfJob(namespace, backupJob.metadata!.name!);
    const backupLog = await cluster.core.readNamespacedPodLog({ name: backupPod!.metadata!.name!, namespace });
    expect(jsonLines(backupLog).some((line) => line.level === "error" && line.msg.includes("read-only file system")), backupLog).toBe(true);
    // Kept: the failed Jobs (with their pods, for kubectl logs); gone: the rest, and every per-Job Secret.
    const all = (await cluster.batch.listJobForAllNamespaces({ labelSelector: `kopia-k8s.io/run-id=${runId}` })).items;
    expect(all.every((j) => condition(j, "Failed"))).toBe(true);
    await expectNothingLeftBut(namespace, runId, ofRun.map((j) => `${j.metadata!.namespace}/${j.metadata!.name}`));
  }, 600_000);

  test("a deleted operator pod (a drain, the deadline): SIGTERM reaches operator-backup, the running hook finishes, the post-backup hook runs, exit 143 long before the 15-minute grace", async () => {
    const { namespace, pvc } = await namespaceWithVolume(cluster, node, "cron-term");
    const app = await deployApp(cluster, node, namespace, {
      "kopia-k8s.io/pre-backup": "touch /data/frozen && sleep 8 && echo frozen",
      "kopia-k8s.io/post-backup": "rm /data/frozen && echo thawed",
    });
    const prefix = `[${namespace}/${app.metadata!.name}]`;
    applyDeploy([namespace]);
    const homePods = await watchPods(cluster, HOME);
    const name = startFromCronJob();
    const frozen = join(pvc.hostPath, "frozen");
    await waitFor("the pre-backup hook to run", async () => existsSync(frozen) || isFinished(await cluster.batch.readNamespacedJob({ name, namespace: HOME })), 120_000);
    const podName = (await operatorPod(name))!.metadata!.name!;
    if (!existsSync(frozen)) throw new Error(`the run ended before its pre-backup hook ran:\n${await cluster.core.readNamespacedPodLog({ name: podName, namespace: HOME })}`);
    const follow = Bun.spawn(["kubectl", "--kubeconfig", cluster.kubeconfigPath, "-n", HOME, "logs", "--follow", podName], { stdout: "pipe", stderr: "pipe" });
    const killFollow = setTimeout(() => follow.kill(), 120_000);

    const deletedAt = performance.now();
    await cluster.core.deleteNamespacedPod({ name: podName, namespace: HOME }); // the pod's own grace: 900 s
    const log = await new Response(follow.stdout).text();
    clearTimeout(killFollow);
    let terminated: { exitCode?: number } | undefined;
    await waitFor("the operator pod's end", async () => {
      terminated = homePods.pods().find((pod) => pod.metadata?.name === podName)?.status?.containerStatuses?.[0]?.state?.terminated;
      return Boolean(terminated);
    }, 60_000);
    const stoppedAfter = (performance.now() - deletedAt) / 1000;
    homePods.stop();
    figures["SIGTERM to exit (s)"] = stoppedAfter.toFixed(1);
    expect(terminated?.exitCode, log).toBe(143);
    expect(stoppedAfter).toBeLessThan(60);

    const lines = jsonLines(log);
    const messages = lines.map((line) => line.msg);
    const signalAt = messages.findIndex((msg) => msg.startsWith("SIGTERM received: starting nothing new"));
    expect(signalAt, log).toBeGreaterThan(-1);
    expect(messages.indexOf(`${prefix} frozen`)).toBeGreaterThan(signalAt); // the hook that was running finished
    expect(messages.indexOf(`${prefix} thawed`)).toBeGreaterThan(signalAt);
    expect(existsSync(frozen)).toBe(false);
    expect(await jobsIn(cluster, namespace)).toEqual([]); // no backup started
    expect(condition(await finishedJob(name), "Failed")).toBe(true);
    await expectNothingLeftBut(namespace, runIdOf(lines)!, []);
  }, 600_000);
});
