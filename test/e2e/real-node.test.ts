/**
 * End to end on a real node (issue 6): a kubelet and containerd on this host run the project image
 * and an application image, beside the kwok nodes of the shared test cluster. The operator runs on
 * this host against the cluster; hooks run in the real app container, kopia-backup in the real image.
 * Needs root; provisions `test/tools/provision.sh node` and builds the image (`npm run image`) when missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestCluster } from "../support/cluster.ts";
import { describeTree } from "../support/corpus.ts";
import { rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { jobsIn } from "../support/operator.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import type { RealNode } from "../support/real-node.ts";
import { deleteAppNamespaces, deployApp as deployOn, namespaceWithVolume as volumeOn, realNodeWithImages, watchPods } from "../support/real-node-e2e.ts";
import { runScript } from "../support/scripts.ts";

const KOPIA_IMAGE = process.env.KK_IMAGE ?? "localhost/kopia-k8s:0.1.0";

let cluster: TestCluster;
let node: RealNode;
let repository: string;
const figures: Record<string, string> = {};

beforeAll(async () => {
  ({ cluster, node } = await realNodeWithImages(KOPIA_IMAGE));
  figures["real node start (s)"] = (node.timings.startMs / 1000).toFixed(1);
  figures["of which image import (s)"] = (node.timings.importMs / 1000).toFixed(1);
  Object.assign(figures, node.versions);
  repository = join(await tempDir("kk-real-repo-"), "repo");
  mkdirSync(repository); // a hostPath volume of type Directory: it must exist on the node
}, 45 * 60_000);

afterAll(async () => {
  if (cluster) deleteAppNamespaces(cluster);
  await node?.stop();
  console.error(`real-node e2e figures: ${JSON.stringify(figures)}`);
});

const namespaceWithVolume = (prefix: string) => volumeOn(cluster, node, prefix);
const deployApp = (namespace: string, annotations: Record<string, string>) => deployOn(cluster, node, namespace, annotations);

function operator(namespace: string, env: Record<string, string> = {}) {
  return runScript(
    "operator-backup",
    ["--namespace", namespace, "--image", KOPIA_IMAGE, "--image-pull-policy", "Never", "--repository", `filesystem://${repository}`, "--no-maintenance"],
    { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD, ...env },
  );
}

describe("a real node: kubelet + containerd run the app and the kopia-k8s image", () => {
  test("hooks run in the app container, kopia-backup runs in the image on the node, the snapshot restores byte for byte", async () => {
    const started = performance.now();
    const { namespace, pvc } = await namespaceWithVolume("real");
    mkdirSync(join(pvc.hostPath, "uploads", "2026"), { recursive: true });
    writeFileSync(join(pvc.hostPath, "uploads", "2026", "photo.bin"), crypto.getRandomValues(new Uint8Array(300_000)));
    writeFileSync(join(pvc.hostPath, "config.yaml"), "replicas: 3\n");
    // Another user's private files: the Job reads them as root with DAC_OVERRIDE only (Pod Security baseline).
    const privateDir = join(pvc.hostPath, "private");
    mkdirSync(privateDir, { mode: 0o700 });
    writeFileSync(join(privateDir, "secret.txt"), "only uid 1234 may read this\n", { mode: 0o600 });
    chownSync(join(privateDir, "secret.txt"), 1234, 1234);
    chownSync(privateDir, 1234, 1234);
    chmodSync(privateDir, 0o700);
    const app = await deployApp(namespace, {
      // $HOSTNAME is the pod's name inside the container (this host's name outside); APP_MARKER only exists in the container.
      "kopia-k8s.io/pre-backup": 'date > /data/dump.sql && echo "dumped $(wc -c < /data/dump.sql) bytes in $HOSTNAME as $APP_MARKER"',
      "kopia-k8s.io/post-backup": 'echo "post-backup in $HOSTNAME, dump still there: $(test -f /data/dump.sql && echo yes)"',
    });
    const appPod = app.metadata!.name!;
    expect(app.spec?.nodeName).toBe(node.name);
    expect(app.status?.containerStatuses?.[0]?.containerID).toStartWith("containerd://");

    const watch = await watchPods(cluster, namespace);
    const run = await operator(namespace);
    await waitFor("the Job pod's final status", async () => watch.pods()[0]?.status?.phase === "Succeeded", 10_000).catch(() => {});
    watch.stop();
    figures["backup run (s)"] = ((performance.now() - started) / 1000).toFixed(1);
    expect(run.exitCode, `${run.output}\n${node.logs(20)}`).toBe(0);

    // The hooks ran inside the app container, their output is in the run's log.
    expect(run.output).toMatch(new RegExp(`\\[${namespace}/${appPod}\\] dumped \\d+ bytes in ${appPod} as inside-${namespace}`));
    expect(run.output).toContain(`[${namespace}/${appPod}] post-backup in ${appPod}, dump still there: yes`);
    expect(await Bun.file(join(pvc.hostPath, "dump.sql")).exists()).toBe(true);

    // The Job's pod really ran kopia-backup in the image on the real node, and ended with exit 0.
    const jobPods = watch.pods();
    expect(jobPods).toHaveLength(1);
    const jobPod = jobPods[0]!;
    expect(jobPod.spec?.nodeName).toBe(node.name);
    const status = jobPod.status?.containerStatuses?.[0];
    expect(status?.containerID).toStartWith("containerd://");
    expect(status?.imageID).toStartWith("sha256:");
    expect(status?.image).toContain("kopia-k8s");
    expect(status?.state?.terminated?.exitCode).toBe(0);
    expect(jobPod.status?.phase).toBe("Succeeded");
    // kopia-backup --summary-file /dev/termination-log: the kubelet read it from the container.
    const summary = JSON.parse(status?.state?.terminated?.message ?? "{}");
    expect(summary).toMatchObject({ result: "success", exitCode: 0 });
    expect(await jobsIn(cluster, namespace)).toEqual([]); // the succeeded Job is gone

    // Restoring the snapshot with kopia on this host gives the volume's files, byte for byte.
    const kopia = await rawKopia(["filesystem", "--path", repository]);
    const snapshots = await kopia.snapshots(`data@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    const restored = join(await tempDir("kk-real-restore-"), "data");
    await kopia.restore(snapshots[0]!.id, restored);
    const tree = await describeTree(restored);
    expect(tree).toEqual(await describeTree(pvc.hostPath));
    expect(tree.some((line) => line.startsWith("dump.sql file "))).toBe(true);
    expect(tree).toContain("private dir 700");
    expect(tree.some((line) => line.startsWith("private/secret.txt file 600 "))).toBe(true);
    expect([statSync(join(restored, "private")).uid, statSync(join(restored, "private", "secret.txt")).uid]).toEqual([1234, 1234]);
  }, 600_000);

  test("a failing hook in a real container: exit 6, no Job, the exit code as the kubelet reports it", async () => {
    const { namespace } = await namespaceWithVolume("real-hook");
    const app = await deployApp(namespace, { "kopia-k8s.io/pre-backup": "echo the database is locked >&2; exit 5" });
    // What a kubelet sends for a non-zero exit (kwok only words it in the message).
    const direct = await cluster.exec(namespace, app.metadata!.name!, ["sh", "-c", "exit 5"]);
    expect(direct.status.reason).toBe("NonZeroExitCode");
    expect(direct.status.details?.causes).toContainEqual(expect.objectContaining({ reason: "ExitCode", message: "5" }));

    const run = await operator(namespace);
    expect(run.exitCode, run.output).toBe(6);
    expect(run.stderr).toContain(`hook in pod ${namespace}/${app.metadata!.name}, container app: exited with code 5 (the database is locked)`);
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  }, 300_000);

  test("a wrong password stops the run at the init Job on the node: exit 5, no backup Job, the kept init Job's pod says why", async () => {
    const { namespace, pvc } = await namespaceWithVolume("real-fail");
    writeFileSync(join(pvc.hostPath, "file.txt"), "data\n");
    // The repository exists (the first test made it, with TEST_PASSWORD); make sure if run alone.
    if (!(await Bun.file(join(repository, "kopia.repository.f")).exists())) {
      const init = await operator((await namespaceWithVolume("real-init")).namespace);
      expect(init.exitCode, init.output).toBe(0);
    }
    // Not "wrong": secrets are redacted in messages, which would turn "wrong password" into "*** password".
    const run = await operator(namespace, { KOPIA_PASSWORD: "not-the-repository-password" });
    expect(run.exitCode, run.output).toBe(5);
    expect(run.stderr).toContain("the repository Job failed, so no hook ran and no backup started");
    expect(run.output).toContain("wrong password");
    expect(await jobsIn(cluster, namespace)).toEqual([]);
    const runId = /run ([0-9a-f]+): discovering/.exec(run.output)![1]!;
    const inits = (await cluster.batch.listJobForAllNamespaces({ labelSelector: `kopia-k8s.io/run-id=${runId},kopia-k8s.io/role=init` })).items;
    expect(inits).toHaveLength(1);
    expect(inits[0]!.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True")).toBe(true);
    const pods = await cluster.podsOfJob(inits[0]!.metadata!.namespace!, inits[0]!.metadata!.name!);
    expect(pods).toHaveLength(1);
    expect(pods[0]!.spec?.nodeName).toBe(node.name); // on the node of the backup, where the repository folder is
    const terminated = pods[0]!.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(5); // repository unusable
    expect(terminated?.message).toContain("wrong password; set KOPIA_PASSWORD");
  }, 300_000);

  test("a Job whose pod cannot start fails in seconds with the kubelet's reason: an image that cannot be pulled, a --secret that does not exist", async () => {
    const base = ["--image-pull-policy", "Always", "--repository", `filesystem://${repository}`, "--no-maintenance", "--pending-timeout", "20s"];
    const env = { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD };
    const pull = await namespaceWithVolume("real-pull");
    // Nothing listens on 127.0.0.1:1, so containerd's pull is refused at once.
    const badImage = await runScript("operator-backup", ["--namespace", pull.namespace, "--image", "localhost:1/kk-missing:0", ...base], env);
    expect(badImage.exitCode, badImage.output).toBe(7);
    expect(badImage.output).toMatch(/the repository Job failed, so no hook ran and no backup started: pod cannot start: (ErrImagePull|ImagePullBackOff): .*localhost:1\/kk-missing:0/);

    const secret = await namespaceWithVolume("real-secret");
    const noSecret = await runScript("operator-backup", ["--namespace", secret.namespace, "--image", KOPIA_IMAGE, "--secret", "kk-missing-secret", ...base.slice(2), "--image-pull-policy", "Never"], env);
    expect(noSecret.exitCode, noSecret.output).toBe(7);
    expect(noSecret.output).toMatch(/the repository Job failed, so no hook ran and no backup started: pod cannot start: CreateContainerConfigError: secret "kk-missing-secret" not found/);
    expect(await jobsIn(cluster, secret.namespace)).toEqual([]);
  }, 120_000);
});
