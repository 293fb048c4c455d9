/**
 * operator-backup to an sftp:// repository on the real node (issue 14): the init and backup Jobs run
 * the project image under the real kubelet and containerd, and reach a real OpenSSH sshd over the
 * pod network. The sshd lives in a network namespace this file makes and plugs into the node's pod
 * bridge (support/pod-network-netns.ts): no address of this host outside loopback is a target.
 * Needs root; provisions the node's tools and builds the image when missing, as real-node.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestCluster } from "../support/cluster.ts";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { kubectl } from "../support/kubectl.ts";
import { jobsIn } from "../support/operator.ts";
import { podNetworkNamespace, type PodNetworkNamespace } from "../support/pod-network-netns.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import type { RealNode } from "../support/real-node.ts";
import { deleteAppNamespaces, deployApp, namespaceWithVolume, realNodeWithImages, watchPods } from "../support/real-node-e2e.ts";
import { runScript } from "../support/scripts.ts";
import { startSshd, type Sshd } from "../support/sshd.ts";

const KOPIA_IMAGE = process.env.KK_IMAGE ?? "localhost/kopia-k8s:0.1.0";
const ROLE = "kopia-k8s.io/role";

let cluster: TestCluster;
let node: RealNode;
let serverNetwork: PodNetworkNamespace;
let sshd: Sshd;
let cordoned: string[] = [];
const figures: Record<string, string> = {};
const fileStarted = performance.now();

beforeAll(async () => {
  ({ cluster, node } = await realNodeWithImages(KOPIA_IMAGE));
  figures["real node start (s)"] = (node.timings.startMs / 1000).toFixed(1);
  // The init Job of a repository that is not a node's folder has no placement; the kwok nodes would
  // "run" it without a container. Test files run one after another, so while this one runs the
  // cluster is its alone: the real node is made the only schedulable one until afterAll (the
  // tainted kwok node takes no pod without a toleration).
  cordoned = [...cluster.nodes];
  const cordon = kubectl(cluster.kubeconfigPath, "cordon", ...cordoned);
  if (cordon.exitCode !== 0) throw new Error(cordon.stderr);
  // The pod bridge exists once a first pod's sandbox made it.
  const first = await namespaceWithVolume(cluster, node, "sftp-first");
  await deployApp(cluster, node, first.namespace, {});
  serverNetwork = await podNetworkNamespace(node);
  sshd = await startSshd({ netns: serverNetwork.path, address: serverNetwork.address });
}, 45 * 60_000);

afterAll(async () => {
  await sshd?.stop();
  serverNetwork?.remove();
  if (cluster) {
    if (cordoned.length) kubectl(cluster.kubeconfigPath, "uncordon", ...cordoned);
    deleteAppNamespaces(cluster);
  }
  await node?.stop();
  figures["file wall time (s)"] = ((performance.now() - fileStarted) / 1000).toFixed(1);
  console.error(`real-node sftp e2e figures: ${JSON.stringify(figures)}`);
});

const repositoryAt = (path: string) => `sftp://${sshd.user}@${sshd.address}:${sshd.port}${sshd.repositories}/${path}`;

function operator(namespace: string, repository: string, args: string[] = []) {
  return runScript(
    "operator-backup",
    ["--namespace", namespace, "--maintenance-namespace", namespace, "--image", KOPIA_IMAGE, "--image-pull-policy", "Never", "--repository", repository, "--no-maintenance", "--pending-timeout", "2m", ...args],
    { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD },
  );
}

const podsWithRole = (pods: V1Pod[], role: string) => pods.filter((pod) => pod.metadata?.labels?.[ROLE] === role);

/** Seconds from the pod's creation to its container's end (the kubelet's times, whole seconds). */
function podSeconds(pod: V1Pod): number {
  const finished = pod.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt;
  return (new Date(finished!).getTime() - new Date(pod.metadata!.creationTimestamp!).getTime()) / 1000;
}

describe("sftp:// from Jobs on a real node, to a real sshd on the pod network", () => {
  test("key and known_hosts copied into the per-Job Secret: the init Job creates the repository, the backup Job's snapshot restores byte for byte with a fresh cache", async () => {
    const { namespace, pvc } = await namespaceWithVolume(cluster, node, "sftp");
    await makeCorpus(pvc.hostPath, { largeFileMiB: 8 });
    await deployApp(cluster, node, namespace, {});
    const repository = repositoryAt("copied");
    const watch = await watchPods(cluster, namespace);
    const started = performance.now();
    const run = await operator(namespace, `${repository}?keyfile=${sshd.clientKey}&known-hosts=${sshd.knownHosts}`);
    figures["operator-backup run (s)"] = ((performance.now() - started) / 1000).toFixed(1);
    await waitFor("the Job pods' final status", async () => watch.pods().length === 2 && watch.pods().every((pod) => pod.status?.phase === "Succeeded"), 10_000).catch(() => {});
    watch.stop();
    expect(run.exitCode, `${run.output}\n${sshd.log()}\n${node.logs(20)}`).toBe(0);

    // Both Jobs ran in the image on the real node, got the URL naming the mounted key files, and
    // connected to sshd from their pod addresses (sshd logs each accepted key with its peer).
    const pods = watch.pods();
    const [init] = podsWithRole(pods, "init");
    const [backup] = podsWithRole(pods, "backup");
    expect(pods).toHaveLength(2);
    for (const pod of [init!, backup!]) {
      expect(pod.spec?.nodeName).toBe(node.name);
      expect(pod.spec?.hostNetwork).toBeFalsy();
      expect(pod.status?.containerStatuses?.[0]?.containerID).toStartWith("containerd://");
      expect(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
      expect(pod.spec?.containers[0]?.env).toContainEqual({ name: "KK_REPOSITORY", value: `${repository}?keyfile=/kopia-keys/keyfile&known-hosts=/kopia-keys/known-hosts` });
      const podIP = pod.status?.podIP ?? "";
      expect(podIP.split(".").slice(0, 3).join(".")).toBe(sshd.address.split(".").slice(0, 3).join("."));
      expect(sshd.log()).toContain(`Accepted publickey for ${sshd.user} from ${podIP} port`);
    }
    // uid 65532 read the 0400 key only through the group the kubelet gave it (fsGroup).
    expect([init!.spec?.containers[0]?.securityContext?.runAsUser, init!.spec?.securityContext?.fsGroup]).toEqual([65532, 65532]);
    figures["sftp backup Job: pod created → container ended (s)"] = String(podSeconds(backup!));
    figures["sftp init Job: pod created → container ended (s)"] = String(podSeconds(init!));
    const summary = JSON.parse(backup!.status?.containerStatuses?.[0]?.state?.terminated?.message ?? "{}");
    expect(summary).toMatchObject({ result: "success", exitCode: 0 });
    figures["sftp backup Job: kopia snapshot (s), files, bytes"] = `${summary.durationSeconds}, ${summary.files}, ${summary.bytes}`;
    expect(await jobsIn(cluster, namespace)).toEqual([]);

    // The repository, opened from this host with a fresh config and cache, restores the volume's files.
    const kopia = await rawKopia(["sftp", `--host=${sshd.address}`, `--port=${sshd.port}`, `--username=${sshd.user}`, `--path=${sshd.repositories}/copied`, `--keyfile=${sshd.clientKey}`, `--known-hosts=${sshd.knownHosts}`]);
    const snapshots = await kopia.snapshots(`data@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    const restored = join(await tempDir("kk-real-sftp-restore-"), "data");
    await kopia.restore(snapshots[0]!.id, restored);
    const tree = await describeTree(restored);
    expect(tree).toEqual(await describeTree(pvc.hostPath));
    expect(tree.some((line) => line.startsWith("large.bin file 644 "))).toBe(true);
  }, 600_000);

  test("a known_hosts naming another host key: the init Job on the node refuses the server, exit 5, no backup Job, nothing written", async () => {
    const { namespace } = await namespaceWithVolume(cluster, node, "sftp-mitm");
    const foreign = await sshd.foreignKnownHosts();
    const run = await operator(namespace, `${repositoryAt("mitm")}?keyfile=${sshd.clientKey}&known-hosts=${foreign}`);
    expect(run.exitCode, run.output).toBe(5);
    expect(run.stderr).toContain("the repository Job failed, so no hook ran and no backup started");
    expect(run.output).toContain("knownhosts: key mismatch");
    const runId = /run ([0-9a-f]+): discovering/.exec(run.output)![1]!;
    const inits = (await cluster.batch.listNamespacedJob({ namespace, labelSelector: `kopia-k8s.io/run-id=${runId},${ROLE}=init` })).items;
    expect(inits).toHaveLength(1);
    const [pod] = await cluster.podsOfJob(namespace, inits[0]!.metadata!.name!);
    expect(pod!.spec?.nodeName).toBe(node.name);
    expect(pod!.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(5);
    expect((await jobsIn(cluster, namespace)).filter((job) => job.metadata?.labels?.[ROLE] === "backup")).toEqual([]);
    expect(await readdir(sshd.repositories)).not.toContain("mitm");
  }, 300_000);

  test("--key-files-secret: the files come from the user's Secret in the namespace; the URL names none", async () => {
    const { namespace, pvc } = await namespaceWithVolume(cluster, node, "sftp-secret");
    await makeCorpus(pvc.hostPath, { largeFileMiB: 1 });
    await cluster.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: "nas-keys" }, stringData: { keyfile: await sshd.clientKeyText(), "known-hosts": await readFile(sshd.knownHosts, "utf8") } },
    });
    const run = await operator(namespace, repositoryAt("user-secret"), ["--key-files-secret", "nas-keys"]);
    expect(run.exitCode, `${run.output}\n${sshd.log()}`).toBe(0);
    const kopia = await rawKopia(["sftp", `--host=${sshd.address}`, `--port=${sshd.port}`, `--username=${sshd.user}`, `--path=${sshd.repositories}/user-secret`, `--keyfile=${sshd.clientKey}`, `--known-hosts=${sshd.knownHosts}`]);
    const snapshots = await kopia.snapshots(`data@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    const restored = join(await tempDir("kk-real-sftp-restore-"), "data");
    await kopia.restore(snapshots[0]!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(pvc.hostPath));
  }, 300_000);
});
