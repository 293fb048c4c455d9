import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { appendFile } from "node:fs/promises";
import { describeTree, fingerprintFolder, makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, rawKopia } from "../support/kopia.ts";
import { startMinio } from "../support/minio.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

/** Two backups of the same corpus through kopia-backup, checked with raw kopia: restore and history. */
async function backupTwiceAndRestore(repository: string, storageArgs: string[], storageEnv: Record<string, string>, measureRepository: () => Promise<number>) {
  const data = join(await tempDir(), "data");
  await makeCorpus(data);
  const { env } = await isolatedKopiaEnv(storageEnv);
  const args = ["--path", data, "--repository", repository, "--hostname", "namespace-a", "--username", "pvc-a", "--source-path", "/data", "--tag", "pvc:a"];

  const first = await runScript("kopia-backup", args, env);
  expect(first.exitCode, first.output).toBe(0);
  expect(first.output).toContain("success: pvc-a@namespace-a:/data");
  const sizeAfterFirst = await measureRepository();

  await appendFile(join(data, "nested/deeper/deepest/leaf.txt"), "changed\n");
  const second = await runScript("kopia-backup", args, env);
  expect(second.exitCode, second.output).toBe(0);
  // Incremental: the second run adds far less than the 100 MiB corpus to the repository.
  expect((await measureRepository()) - sizeAfterFirst).toBeLessThan(5 * 1024 * 1024);

  const kopia = await rawKopia(storageArgs, storageEnv);
  const snapshots = await kopia.snapshots("pvc-a@namespace-a:/data");
  expect(snapshots).toHaveLength(2);
  expect(snapshots.every((snapshot) => snapshot.source.path === "/data" && !snapshot.incomplete)).toBe(true);
  expect(snapshots[1]!.tags).toEqual({ "tag:pvc": "a" });

  const restored = join(await tempDir(), "restored");
  await kopia.restore(snapshots[1]!.id, restored);
  expect(await describeTree(restored)).toEqual(await describeTree(data));
}

describe("kopia-backup round trip (real kopia)", () => {
  test("filesystem repository: restore gives identical bytes and metadata; second run is incremental in the same source", async () => {
    const repo = join(await tempDir(), "repo");
    const measure = async () => (await fingerprintFolder(repo)).reduce((total, line) => total + Number(line.split(" ").at(-2)), 0);
    await backupTwiceAndRestore(`filesystem://${repo}`, ["filesystem", "--path", repo], {}, measure);
  });

  test("S3 repository on a real MinIO: same guarantees", async () => {
    const minio = await startMinio();
    await minio.createBucket("backups");
    const measure = async () => (await minio.listObjects("backups")).reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
    await backupTwiceAndRestore(
      `s3://backups/cluster-a?endpoint=${minio.endpoint}&insecure=true`,
      ["s3", "--bucket", "backups", "--prefix", "cluster-a/", "--endpoint", minio.endpoint, "--disable-tls"],
      minio.env,
      measure,
    );
  });
});
