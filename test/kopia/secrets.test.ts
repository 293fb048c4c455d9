import { describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, kopiaArgvRecorder, TEST_PASSWORD } from "../support/kopia.ts";
import { startMinio } from "../support/minio.ts";
import { tempDir } from "../support/processes.ts";
import { collect, runScript, startScript } from "../support/scripts.ts";

/** Every process's argv on this machine, read from /proc. */
async function allCommandLines(): Promise<string[]> {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  const lines = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")));
  return lines.map((line) => line.replaceAll("\0", " "));
}

describe("secrets stay out of argv, logs and help", () => {
  test("during an S3 backup at --debug: no process argv and no log line holds the password or the S3 secret", async () => {
    const minio = await startMinio();
    await minio.createBucket("secrets");
    const data = join(await tempDir(), "data");
    await makeCorpus(data, { largeFileMiB: 300 });
    const { env } = await isolatedKopiaEnv(minio.env);
    const secrets = [TEST_PASSWORD, minio.secretKey];

    // Sampling /proc can miss a short kopia call; the recorder sees every call's argv for sure.
    const kopia = await kopiaArgvRecorder();

    const child = startScript("kopia-backup", ["--path", data, "--repository", `s3://secrets?endpoint=${minio.endpoint}&insecure=true`, "--keep-daily", "7", "--kopia-path", kopia.path, "--debug"], env);
    const result = collect(child);
    let samples = 0;
    let sawKopia = false;
    while (child.exitCode === null) {
      const commandLines = await allCommandLines();
      sawKopia ||= commandLines.some((line) => line.includes("snapshot create"));
      for (const secret of secrets) expect(commandLines.filter((line) => line.includes(secret))).toEqual([]);
      samples++;
      await Bun.sleep(20);
    }
    const run = await result;
    expect(run.exitCode, run.output).toBe(0);
    expect(sawKopia).toBe(true); // the sampling really watched kopia at work
    expect(samples).toBeGreaterThan(5);
    expect(run.output).toContain("running kopia snapshot create");
    for (const secret of secrets) expect(run.output).not.toContain(secret);
    expect(await kopia.commands()).toEqual(["repository connect", "repository create", "policy set", "snapshot create"]);
    for (const secret of secrets) expect((await kopia.calls()).filter((call) => call.includes(secret))).toEqual([]);
  });

  test("the seed's KK_ENCRYPTION_PASSWORD is used, and neither it nor env values show in --help", async () => {
    const data = join(await tempDir(), "data");
    await makeCorpus(data, { largeFileMiB: 1 });
    const repo = join(await tempDir(), "repo");
    const { env } = await isolatedKopiaEnv({ KOPIA_PASSWORD: undefined, KK_ENCRYPTION_PASSWORD: TEST_PASSWORD, KK_REPOSITORY: `filesystem://${repo}`, KK_BACKUP_PATH: data });
    const run = await runScript("kopia-backup", ["--debug"], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).not.toContain(TEST_PASSWORD);
    const help = await runScript("kopia-backup", ["--help"], env);
    expect(help.exitCode).toBe(0);
    expect(help.output).toContain("--repository <url>");
    expect(help.output).not.toContain(TEST_PASSWORD);
    expect(help.output).not.toContain(repo);
  });
});
