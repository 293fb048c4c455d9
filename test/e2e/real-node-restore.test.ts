/**
 * operator-restore end to end on a real node (issue 13): kubelet + containerd run the app and the
 * project image's kopia-restore. An app's volume is backed up, damaged and restored in place with
 * --scale-down (the app comes back); then its namespace is deleted and the volume restored into
 * another namespace from what the backup recorded. Owners and modes are compared as well as bytes.
 * Needs root; provisions the node and builds the image as test/e2e/real-node.test.ts does.
 */
import { AppsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestCluster } from "../support/cluster.ts";
import { describeTree } from "../support/corpus.ts";
import { TEST_PASSWORD } from "../support/kopia.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import type { RealNode } from "../support/real-node.ts";
import { deleteAppNamespaces, deployApp as deployOn, namespaceWithVolume as volumeOn, realNodeWithImages } from "../support/real-node-e2e.ts";
import { deleteAtCleanup, deleteNamespaceAndWait, volumeForRestore } from "../support/restore-cluster.ts";
import { runScript } from "../support/scripts.ts";

const KOPIA_IMAGE = process.env.KK_IMAGE ?? "localhost/kopia-k8s:0.1.0";

let cluster: TestCluster;
let node: RealNode;
let repository: string;

beforeAll(async () => {
  ({ cluster, node } = await realNodeWithImages(KOPIA_IMAGE));
  repository = join(await tempDir("kk-real-restore-repo-"), "repo");
  mkdirSync(repository); // a hostPath volume of type Directory: it must exist on the node
}, 45 * 60_000);

afterAll(async () => {
  if (cluster) deleteAppNamespaces(cluster);
  await node?.stop();
});

const namespaceWithVolume = (prefix: string) => volumeOn(cluster, node, prefix);
const deployApp = (namespace: string, annotations: Record<string, string>) => deployOn(cluster, node, namespace, annotations);
const jobFlags = () => ["--image", KOPIA_IMAGE, "--image-pull-policy", "Never", "--repository", `filesystem://${repository}`];
const env = () => ({ KUBECONFIG: cluster.kubeconfigPath, KOPIA_PASSWORD: TEST_PASSWORD });

/** An app's files as an app running as uid 1000 leaves them: a private 0640 file, a 0500 folder, a link, an empty folder. */
function writeAppFiles(root: string): void {
  writeFileSync(join(root, "notes.txt"), "owned by the app\n", { mode: 0o640 });
  chmodSync(join(root, "notes.txt"), 0o640);
  mkdirSync(join(root, "sealed"));
  writeFileSync(join(root, "sealed", "key.pem"), crypto.getRandomValues(new Uint8Array(4096)), { mode: 0o400 });
  chmodSync(join(root, "sealed"), 0o500);
  writeFileSync(join(root, "photo.bin"), crypto.getRandomValues(new Uint8Array(200_000)));
  symlinkSync("notes.txt", join(root, "latest"));
  mkdirSync(join(root, "empty"));
  for (const path of ["notes.txt", "sealed/key.pem", "sealed", "photo.bin", "empty"]) chownSync(join(root, path), 1000, 1000);
}

const owners = (root: string) => ["notes.txt", "sealed", "sealed/key.pem", "photo.bin", "empty"].map((path) => `${path} ${lstatSync(join(root, path)).uid}:${lstatSync(join(root, path)).gid}`);

describe("operator-restore on a real node: the project image restores owners, modes and bytes", () => {
  test("in place with --scale-down --overwrite --delete-extra: the volume is the snapshot again and the app runs again; then into another namespace from the backup's record", async () => {
    const { namespace, pvc } = await namespaceWithVolume("real-restore");
    writeAppFiles(pvc.hostPath);
    await deployApp(namespace, {});
    const backup = await runScript("operator-backup", ["--namespace", namespace, ...jobFlags(), "--no-maintenance"], env());
    expect(backup.exitCode, `${backup.output}\n${node.logs(20)}`).toBe(0);
    const snapshotTree = await describeTree(pvc.hostPath);
    const snapshotOwners = owners(pvc.hostPath);
    expect(snapshotOwners).toContain("sealed/key.pem 1000:1000");
    expect(snapshotTree).toContain("sealed dir 500");

    // The app's bad day: a file changed, one deleted, one that was never backed up.
    writeFileSync(join(pvc.hostPath, "notes.txt"), "overwritten by a bug\n");
    rmSync(join(pvc.hostPath, "photo.bin"));
    writeFileSync(join(pvc.hostPath, "junk.tmp"), "not in the snapshot\n");
    expect(await describeTree(pvc.hostPath)).not.toEqual(snapshotTree);

    const inPlace = await runScript("operator-restore", ["--namespace", namespace, "--pvc", "data", "--scale-down", "--overwrite", "--delete-extra", "--repository-node", node.name, ...jobFlags()], env());
    expect(inPlace.exitCode, `${inPlace.output}\n${node.logs(20)}`).toBe(0);
    expect(inPlace.output).toContain(`scaled ${namespace}/deployment/app to 0 (was 1`);
    expect(inPlace.output).toContain(`scaled ${namespace}/deployment/app back to 1`);
    expect(await describeTree(pvc.hostPath)).toEqual(snapshotTree);
    expect(owners(pvc.hostPath)).toEqual(snapshotOwners);
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    await waitFor(`deployment ${namespace}/app back at 1 ready replica`, async () => (await apps.readNamespacedDeployment({ namespace, name: "app" })).status?.readyReplicas === 1, 120_000);

    // The namespace is lost; the volume comes back in another one, its claim from the snapshot's tags.
    await deleteNamespaceAndWait(cluster, namespace);
    const moved = `${namespace}-moved`;
    deleteAtCleanup(cluster, moved);
    const volume = await volumeForRestore(cluster, { namespace: moved, pvc: "data", node: node.name });
    const intoNew = await runScript(
      "operator-restore",
      ["--namespace", namespace, "--pvc", "data", "--to-namespace", moved, "--create-namespace", "--repository-node", node.name, ...jobFlags()],
      env(),
    );
    expect(intoNew.exitCode, `${intoNew.output}\n${node.logs(20)}`).toBe(0);
    expect(intoNew.output).toContain(`create PVC ${moved}/data from the backup's record`);
    expect(await describeTree(volume.hostPath)).toEqual(snapshotTree);
    expect(owners(volume.hostPath)).toEqual(snapshotOwners);
  }, 900_000);
});
