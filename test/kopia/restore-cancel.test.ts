import { describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeTree, makeBusyCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv } from "../support/kopia.ts";
import { processesRunning, tempDir, waitForProcess } from "../support/processes.ts";
import { collect, runScript, startScript } from "../support/scripts.ts";

describe("kopia-restore cancellation", () => {
  test("SIGTERM mid-restore stops kopia with exit 4; the same command with --skip-existing then completes identically", async () => {
    const data = join(await tempDir(), "data");
    await makeBusyCorpus(data);
    const repo = join(await tempDir(), "repo");
    const { env } = await isolatedKopiaEnv({ KK_REPOSITORY: `filesystem://${repo}` });
    const backup = await runScript("kopia-backup", ["--path", data, "--hostname", "apps", "--username", "big", "--source-path", "/data"], env);
    expect(backup.exitCode, backup.output).toBe(0);

    const dir = await tempDir();
    const target = join(dir, "restored");
    const summaryFile = join(dir, "summary.json");
    const args = ["--namespace", "apps", "--pvc", "big", "--target", target, "--summary-file", summaryFile];
    const child = startScript("kopia-restore", args, env);
    const output = collect(child);
    await waitForProcess(`snapshot restore .* ${target}`, "kopia snapshot restore");
    const deadline = Date.now() + 60_000;
    // kopia writes 8 files at once: with 12 in the target, at least 4 are complete (and must be kept on resume).
    while ((await readdir(target).catch(() => [])).length < 12) {
      if (Date.now() > deadline) throw new Error("kopia restored fewer than 12 files in a minute");
      await Bun.sleep(10);
    }
    child.kill("SIGTERM");
    const cancelled = await output;

    expect(cancelled.exitCode, cancelled.output).toBe(4);
    expect(cancelled.output).toContain("SIGTERM received: stopping kopia");
    expect(cancelled.output).toContain(`holds part of it; run the same command with --skip-existing to finish`);
    expect(await processesRunning(`snapshot restore .* ${target}`)).toEqual([]);
    const partial = await describeTree(target);
    const expected = await describeTree(data);
    expect(partial).not.toEqual(expected); // really cut short
    expect(JSON.parse(await readFile(summaryFile, "utf8"))).toMatchObject({ result: "cancelled", exitCode: 4, target });

    // Without --skip-existing the partial target is refused like any other non-empty one.
    const refused = await runScript("kopia-restore", args, env);
    expect(refused.exitCode, refused.output).toBe(9);

    const resumed = await runScript("kopia-restore", [...args, "--skip-existing"], env);
    expect(resumed.exitCode, resumed.output).toBe(0);
    expect(await describeTree(target)).toEqual(expected);
    const summary = JSON.parse(await readFile(summaryFile, "utf8"));
    expect(summary).toMatchObject({ result: "restored", exitCode: 0, expectedFiles: 40 });
    expect(summary.skipped).toBeGreaterThan(0); // files finished before the signal were kept, not written again
    expect(summary.files + summary.skipped).toBe(40);
  });
});
