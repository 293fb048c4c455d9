/**
 * Grouping on a real node (issue 15): ten PVCs of one namespace, all mounted by one app pod on the
 * real node, backed up with one Job per PVC and then with one Job for all ten. Both runs' wall times
 * are printed (kubelet + containerd pay a pod sandbox, a container start and a kopia connect per
 * Job); every snapshot of both runs restores identically with a fresh kopia cache.
 * Needs root; provisions the node and builds the image as test/e2e/real-node.test.ts does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TestCluster } from "../support/cluster.ts";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { jobsIn, waitForRunning } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import type { RealNode } from "../support/real-node.ts";
import { APP_IMAGE, deleteAppNamespaces, realNodeWithImages, watchPods } from "../support/real-node-e2e.ts";
import { runScript } from "../support/scripts.ts";

const KOPIA_IMAGE = process.env.KK_IMAGE ?? "localhost/kopia-k8s:0.1.0";
const VOLUMES = 10;

let cluster: TestCluster;
let node: RealNode;
let repository: string;

beforeAll(async () => {
  ({ cluster, node } = await realNodeWithImages(KOPIA_IMAGE));
  repository = join(await tempDir("kk-real-group-repo-"), "repo");
  mkdirSync(repository); // a hostPath volume of type Directory: it must exist on the node
}, 45 * 60_000);

afterAll(async () => {
  if (cluster) deleteAppNamespaces(cluster);
  await node?.stop();
});

describe("one Job for a namespace's volumes on the real node", () => {
  test("ten PVCs: one Job per PVC, then one Job for all; every snapshot restores identically", async () => {
    const namespace = await cluster.freshNamespace("real-group");
    const claims = Array.from({ length: VOLUMES }, (_, index) => `data-${index}`);
    const folders: Record<string, string> = {};
    for (const claim of claims) {
      const volume = await cluster.createBoundPvc(namespace, claim, { node: node.name });
      await makeCorpus(volume.hostPath, { largeFileMiB: 3 });
      folders[claim] = volume.hostPath;
    }
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "app", namespace },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": node.name },
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "app", image: APP_IMAGE, imagePullPolicy: "Never", command: ["sleep", "infinity"], volumeMounts: claims.map((claim) => ({ name: claim, mountPath: `/srv/${claim}` })) }],
          volumes: claims.map((claim) => ({ name: claim, persistentVolumeClaim: { claimName: claim } })),
        },
      },
    });
    await waitForRunning(cluster, namespace, "app", 120_000);

    const backUp = async (volumesPerJob: number) => {
      const runId = `group${volumesPerJob}${crypto.randomUUID().slice(0, 6)}`;
      const pods = await watchPods(cluster, namespace, `kopia-k8s.io/run-id=${runId},kopia-k8s.io/role=backup`);
      const started = performance.now();
      const run = await runScript(
        "operator-backup",
        ["--namespace", namespace, "--image", KOPIA_IMAGE, "--image-pull-policy", "Never", "--repository", `filesystem://${repository}`, "--no-maintenance", "--volumes-per-job", String(volumesPerJob), "--uuid", runId],
        { KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD },
      );
      const seconds = (performance.now() - started) / 1000;
      pods.stop();
      expect(run.exitCode, `${run.output}\n${node.logs(20)}`).toBe(0);
      expect(run.stdout).toContain(`${VOLUMES} of ${VOLUMES} done`);
      for (const claim of claims) expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+${claim}\\s+${node.name}\\s+success`));
      return { seconds, jobs: new Set(pods.pods().map((pod) => pod.metadata!.labels!["batch.kubernetes.io/job-name"])).size };
    };
    const perPvc = await backUp(1);
    const grouped = await backUp(VOLUMES);
    console.error(`real-node grouping, ${VOLUMES} PVCs: one Job per PVC ${perPvc.seconds.toFixed(1)} s (${perPvc.jobs} Jobs), one Job for all ${grouped.seconds.toFixed(1)} s (${grouped.jobs} Job)`);
    expect(perPvc.jobs).toBe(VOLUMES);
    expect(grouped.jobs).toBe(1);
    expect(await jobsIn(cluster, namespace)).toEqual([]);

    // Both runs' snapshots, each under its own PVC's identity, read back with a fresh kopia cache.
    const kopia = await rawKopia(["filesystem", "--path", repository]);
    for (const claim of claims) {
      const snapshots = await kopia.snapshots(`${claim}@${namespace}:/data`);
      expect(snapshots).toHaveLength(2);
      for (const snapshot of snapshots) {
        expect(snapshot.tags).toMatchObject({ "tag:k8s-size": "1Gi", "tag:k8s-access-modes": "ReadWriteOnce" });
        const restored = join(await tempDir("kk-real-group-restore-"), "restored");
        await kopia.restore(snapshot.id, restored);
        expect(await describeTree(restored)).toEqual(await describeTree(folders[claim]!));
      }
    }
  });
});
