import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { makeBusyCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, rawKopia } from "../support/kopia.ts";
import { processesRunning, tempDir, waitForProcess } from "../support/processes.ts";
import { collect, startScript } from "../support/scripts.ts";

describe("kopia-backup cancellation", () => {
  test("SIGTERM mid-snapshot: kopia is stopped, the snapshot is reported incomplete, exit 4", async () => {
    const data = join(await tempDir(), "data");
    await makeBusyCorpus(data);
    const repo = join(await tempDir(), "repo");
    const summaryFile = join(await tempDir(), "summary.json");
    const { env } = await isolatedKopiaEnv();
    const child = startScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`, "--summary-file", summaryFile, "--debug", "--hostname", "cancel-test"], env);
    const output = collect(child);

    await waitForKopiaSnapshot(data);
    // Long enough for kopia to have something to save (a signal before that is the next test's case).
    await Bun.sleep(1000);
    child.kill("SIGTERM");
    const run = await output;

    expect(run.exitCode, run.output).toBe(4);
    expect(run.output).toContain("SIGTERM received: cancelling the snapshot");
    expect(run.output).toMatch(/incomplete: root@cancel-test:.* is incomplete \(cancell?ed\)/);
    expect(await processesRunning(`snapshot create ${data}`)).toEqual([]);
    const summary = JSON.parse(await Bun.file(summaryFile).text());
    expect(summary.exitCode).toBe(4);
    expect(summary.source).toBe(`root@cancel-test:${data}`);
    const kopia = await rawKopia(["filesystem", "--path", repo]);
    const complete = (await kopia.snapshots(`${summary.source}`)).filter((snapshot) => !snapshot.incomplete);
    expect(complete).toEqual([]);
  });
});

describe("kopia-backup cancelled as the snapshot starts", () => {
  test("SIGTERM before kopia saved anything: exit 4 (cancelled, nothing saved), not 1 (kopia failed)", async () => {
    const data = join(await tempDir(), "data");
    await makeBusyCorpus(data, { files: 8 });
    const repo = join(await tempDir(), "repo");
    const summaryFile = join(await tempDir(), "summary.json");
    const { env } = await isolatedKopiaEnv();
    const child = startScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`, "--summary-file", summaryFile], env);
    const output = collect(child);

    await waitForKopiaSnapshot(data);
    child.kill("SIGTERM");
    const run = await output;

    expect(run.exitCode, run.output).toBe(4);
    expect(run.output).not.toContain("kopia failed without a message");
    expect(JSON.parse(await Bun.file(summaryFile).text()).exitCode).toBe(4);
  });
});

describe("kopia-backup cancelled while connecting", () => {
  test("SIGTERM while kopia waits for the storage: exit 4 (cancelled), not 5 (repository unusable)", async () => {
    // An S3 endpoint that accepts connections and never answers keeps `repository connect` waiting.
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const data = await tempDir();
      const { env } = await isolatedKopiaEnv();
      const child = startScript("kopia-backup", ["--path", data, "--repository", `s3://bucket?endpoint=127.0.0.1:${silent.port}&insecure=true`], { ...env, AWS_ACCESS_KEY_ID: "kk-test", AWS_SECRET_ACCESS_KEY: "kk-test-secret" });
      const output = collect(child);
      await waitForProcess("repository connect s3", "kopia repository connect", 30_000);
      await Bun.sleep(300);
      child.kill("SIGTERM");
      const run = await output;
      expect(run.exitCode, run.output).toBe(4);
      expect(run.stderr).toContain("connecting to the repository: cancelled by a signal");
    } finally {
      silent.stop(true);
    }
  });
});

const waitForKopiaSnapshot = (data: string) => waitForProcess(`snapshot create ${data}`, "kopia snapshot create");
