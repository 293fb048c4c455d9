import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { runOperatorWithHostJobs, type HostRun } from "../support/job-runner.ts";
import { rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { startMinio } from "../support/minio.ts";
import { createAppPod } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const PVCS = ["pvc-a", "pvc-b", "pvc-c", "pvc-d", "pvc-e"];

/** Five PVCs of one app, each with its own files; the operator's Jobs run for real on this host. */
async function firstRun(repository: string, env: Record<string, string>) {
  const namespace = await cluster.freshNamespace("first");
  const folders = new Map<string, string>();
  for (const [index, pvc] of PVCS.entries()) {
    // "app" mounts the first three (on one node), "other" the last two (on another).
    const volume = await cluster.createBoundPvc(namespace, pvc, { node: cluster.nodes[index < 3 ? 0 : 1]! });
    await makeCorpus(volume.hostPath, { largeFileMiB: 1 });
    await Bun.write(join(volume.hostPath, "which.txt"), `${pvc}\n`);
    folders.set(pvc, volume.hostPath);
  }
  await createAppPod(cluster, namespace, "app", PVCS.slice(0, 3));
  await createAppPod(cluster, namespace, "other", PVCS.slice(3));
  const { run, runs } = await runOperatorWithHostJobs(cluster, namespace, ["--repository", repository, "--concurrency", "5", "--volumes-per-job", "1", "--no-maintenance"], env);
  return { namespace, folders, run, runs };
}

/** One init Job ran, and ended, before the first backup Job started; no backup Job may create. */
function expectCreatedOnceBeforeTheBackups(runs: HostRun[]) {
  const inits = runs.filter((run) => run.role === "init");
  const backups = runs.filter((run) => run.role === "backup");
  expect(inits).toHaveLength(1);
  expect(inits[0]!.command).toBe("kopia-maintenance");
  expect(inits[0]!.args).toContain("--init");
  expect(inits[0]!.result.exitCode, inits[0]!.result.output).toBe(0);
  expect(inits[0]!.result.output).toContain("is empty: creating a new Kopia repository");
  expect(backups).toHaveLength(PVCS.length);
  for (const backup of backups) {
    expect(backup.startedAt).toBeGreaterThanOrEqual(inits[0]!.endedAt);
    expect(backup.args).toContain("--no-create");
    expect(backup.result.exitCode, backup.result.output).toBe(0);
    expect(backup.result.output).not.toContain("creating a new Kopia repository");
  }
}

/** Opened afresh (new config and cache): one snapshot per PVC, each restoring to its volume's files. */
async function expectEveryVolumeRestores(storageArgs: string[], storageEnv: Record<string, string>, namespace: string, folders: Map<string, string>) {
  const kopia = await rawKopia(storageArgs, storageEnv);
  for (const [pvc, folder] of folders) {
    const snapshots = await kopia.snapshots(`${pvc}@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    const restored = join(await tempDir(), "restored");
    await kopia.restore(snapshots[0]!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(folder));
  }
}

describe("operator-backup's first run on empty storage: the repository is created once, before any backup Job", () => {
  test("2 empty MinIO bucket, five PVCs, five Jobs at once: one init Job creates it, the Jobs only connect, every volume restores with a fresh cache", async () => {
    const minio = await startMinio();
    await minio.createBucket("first-run");
    const { namespace, folders, run, runs } = await firstRun(`s3://first-run?endpoint=${minio.endpoint}&insecure=true`, minio.env);
    expect(run.exitCode, run.output).toBe(0);
    expectCreatedOnceBeforeTheBackups(runs);
    await expectEveryVolumeRestores(["s3", "--bucket", "first-run", "--endpoint", minio.endpoint, "--disable-tls"], minio.env, namespace, folders);
  });

  test("2 empty filesystem repository: the same", async () => {
    const repository = join(await tempDir(), "repo");
    const { namespace, folders, run, runs } = await firstRun(`filesystem://${repository}`, {});
    expect(run.exitCode, run.output).toBe(0);
    expectCreatedOnceBeforeTheBackups(runs);
    await expectEveryVolumeRestores(["filesystem", "--path", repository], {}, namespace, folders);
  });

  test("2 a wrong password stops the run at the init Job: exit 5, the reason, no hook and no backup Job", async () => {
    const repository = join(await tempDir(), "repo");
    const seed = join(await tempDir(), "seed");
    await Bun.write(join(seed, "x.txt"), "x\n");
    const home = await tempDir();
    const created = await runScript("kopia-backup", ["--path", seed, "--repository", `filesystem://${repository}`], { HOME: home, KOPIA_PASSWORD: TEST_PASSWORD });
    expect(created.exitCode, created.output).toBe(0);

    const { run, runs } = await firstRun(`filesystem://${repository}`, { KOPIA_PASSWORD: "not the password at all" });
    expect(run.exitCode, run.output).toBe(5);
    expect(run.stderr).toContain("the repository Job failed, so no hook ran and no backup started");
    expect(run.stderr).toContain("wrong password");
    expect(runs.map((hostRun) => hostRun.role)).toEqual(["init"]);
  });
});
