/**
 * kopia-backup --volumes against real kopia: several folders over one connection, each its own
 * Kopia source; one volume's trouble stays its own, the repository's or a signal's ends the run.
 */
import { describe, expect, test } from "bun:test";
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseExposition } from "../../shared/metrics.ts";
import { parseVolumesSummary } from "../../shared/volumes-summary.ts";
import { describeTree, fingerprintFolder, makeBusyCorpus, makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, kopiaArgvRecorder, kopiaForAnyUser, rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { processesRunning, tempDir, waitForProcess } from "../support/processes.ts";
import { collect, runScript, startScript } from "../support/scripts.ts";

/** Three folders with different contents, and --volumes naming them data-a, data-b, data-c. */
async function threeVolumes(dir: string) {
  const folders = { "data-a": join(dir, "volumes", "0"), "data-b": join(dir, "volumes", "1"), "data-c": join(dir, "volumes", "2") };
  await makeCorpus(folders["data-a"], { largeFileMiB: 2 });
  await mkdir(join(folders["data-b"], "db"), { recursive: true });
  await writeFile(join(folders["data-b"], "db", "table.dat"), "rows\n".repeat(1000));
  await mkdir(folders["data-c"], { recursive: true });
  await writeFile(join(folders["data-c"], "index.html"), "<h1>c</h1>\n");
  const volumes = [
    { path: folders["data-a"], username: "data-a", tags: ["k8s-size:1Gi"] },
    { path: folders["data-b"], username: "data-b", tags: ["k8s-size:5Gi", "k8s-storage-class:fast"] },
    { path: folders["data-c"], username: "data-c" },
  ];
  return { folders, volumes, json: JSON.stringify(volumes) };
}

const summaryOf = async (file: string) => parseVolumesSummary(await Bun.file(file).text());

describe("kopia-backup --volumes", () => {
  test("three folders, one run: three sources data-?@ns:/data with their tags, restored identically through a fresh kopia cache; one connect", async () => {
    const dir = await tempDir();
    const { folders, json } = await threeVolumes(dir);
    const repo = join(dir, "repo");
    const summaryFile = join(dir, "summary.json");
    const metricsFile = join(dir, "kopia.prom");
    const { env } = await isolatedKopiaEnv();
    const kopia = await kopiaArgvRecorder();
    const run = await runScript("kopia-backup", ["--volumes", json, "--repository", `filesystem://${repo}`, "--hostname", "ns", "--source-path", "/data", "--tag", "app:shop", "--keep-daily", "7", "--summary-file", summaryFile, "--metrics-file", metricsFile, "--kopia-path", kopia.path], env);

    expect(run.exitCode, run.output).toBe(0);
    for (const name of Object.keys(folders)) expect(run.output).toContain(`success: ${name}@ns:/data`);
    expect(await kopia.commands()).toEqual(["repository connect", "repository create", ...Array(3).fill(["policy set", "snapshot create"]).flat()]);

    const summary = (await summaryOf(summaryFile))!;
    expect(summary).toMatchObject({ result: "success", exitCode: 0, message: "3 volumes: 3 success" });
    expect(summary.volumes.map((volume) => [volume.username, volume.source, volume.result])).toEqual(Object.keys(folders).map((name) => [name, `${name}@ns:/data`, "success"]));
    const successes = parseExposition(await Bun.file(metricsFile).text()).filter((sample) => sample.name === "kopia_k8s_backup_success");
    expect(successes.map((sample) => [sample.labels.source, sample.value]).sort()).toEqual(Object.keys(folders).map((name) => [`${name}@ns:/data`, 1]));

    const fresh = await rawKopia(["filesystem", "--path", repo]);
    const tags = { "data-a": { "tag:k8s-size": "1Gi" }, "data-b": { "tag:k8s-size": "5Gi", "tag:k8s-storage-class": "fast" }, "data-c": {} };
    for (const [name, folder] of Object.entries(folders)) {
      const snapshots = await fresh.snapshots(`${name}@ns:/data`);
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]!.source).toEqual({ host: "ns", userName: name, path: "/data" });
      expect(snapshots[0]!.tags).toEqual({ "tag:app": "shop", ...tags[name as keyof typeof tags] });
      expect(snapshots[0]!.id).toBe(summary.volumes.find((volume) => volume.username === name)!.snapshotId!);
      const restored = join(await tempDir(), "restored");
      await fresh.restore(snapshots[0]!.id, restored);
      expect(await describeTree(restored)).toEqual(await describeTree(folder));
    }
    expect(await fresh.run(["policy", "show", "data-b@ns:/data"])).toMatch(/Daily snapshots:\s+7\s+\(defined for this target\)/);
  });

  test("one volume partly unreadable: that volume partial, the others success, exit 3, the summary lists all", async () => {
    // Root reads everything, so this runs as nobody: one file of data-b stays root-only.
    const dir = await tempDir();
    await chmod(dir, 0o777);
    const { volumes } = await threeVolumes(join(dir, "v"));
    Bun.spawnSync(["chmod", "-R", "a+rX", join(dir, "v")]);
    await writeFile(join(volumes[1]!.path, "db", "root-only.key"), "secret\n", { mode: 0o600 });
    const kopiaBinary = await kopiaForAnyUser(dir);
    const home = join(dir, "home");
    await mkdir(home, { mode: 0o777 });
    await chown(home, 65534, 65534);
    const summaryFile = join(home, "summary.json");
    const run = await runScript(
      "kopia-backup",
      ["--volumes", JSON.stringify(volumes), "--repository", `filesystem://${join(dir, "repo")}`, "--hostname", "ns", "--source-path", "/data", "--summary-file", summaryFile, "--kopia-path", kopiaBinary],
      { HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache"), KOPIA_PASSWORD: TEST_PASSWORD },
      { asUser: 65534 },
    );

    expect(run.exitCode, run.output).toBe(3);
    expect(run.output).toMatch(/unreadable: .*root-only.key: .*permission denied/);
    const summary = (await summaryOf(summaryFile))!;
    expect(summary).toMatchObject({ result: "partial", exitCode: 3 });
    expect(summary.volumes.map((volume) => [volume.username, volume.result, volume.exitCode])).toEqual([["data-a", "success", 0], ["data-b", "partial", 3], ["data-c", "success", 0]]);
    expect(summary.volumes.every((volume) => volume.snapshotId)).toBe(true);
    expect(summary.volumes[1]).toMatchObject({ errors: 1, errorSamples: [{ path: expect.stringContaining("root-only.key") }] });
  });

  test("wrong password: every volume fatal with the repository's reason, exit 5, nothing snapshotted", async () => {
    const dir = await tempDir();
    const { volumes, json } = await threeVolumes(dir);
    const repo = join(dir, "repo");
    const { env } = await isolatedKopiaEnv();
    const first = await runScript("kopia-backup", ["--path", volumes[0]!.path, "--repository", `filesystem://${repo}`], env);
    expect(first.exitCode, first.output).toBe(0);
    const before = await fingerprintFolder(repo);
    const summaryFile = join(dir, "summary.json");
    const kopia = await kopiaArgvRecorder();

    const run = await runScript("kopia-backup", ["--volumes", json, "--repository", `filesystem://${repo}`, "--hostname", "ns", "--summary-file", summaryFile, "--kopia-path", kopia.path], { ...(await isolatedKopiaEnv()).env, KOPIA_PASSWORD: "not the password" });

    expect(run.exitCode, run.output).toBe(5);
    expect(await kopia.commands()).toEqual(["repository connect"]);
    expect(await fingerprintFolder(repo)).toEqual(before);
    const summary = (await summaryOf(summaryFile))!;
    expect(summary).toMatchObject({ result: "fatal", exitCode: 5 });
    expect(summary.volumes).toHaveLength(3);
    for (const volume of summary.volumes) {
      expect(volume).toMatchObject({ result: "fatal", exitCode: 5 });
      expect(volume.message).toMatch(/wrong password; set KOPIA_PASSWORD/);
      expect(volume.snapshotId).toBeUndefined();
    }
    expect(run.output).not.toContain("not the password");
  });

  test("wrong password on a reused connection: the first volume meets it, the others are not started, exit 5", async () => {
    const dir = await tempDir();
    const { json } = await threeVolumes(dir);
    const repo = join(dir, "repo");
    const { env } = await isolatedKopiaEnv();
    const kopia = await kopiaArgvRecorder();
    const args = ["--volumes", json, "--repository", `filesystem://${repo}`, "--hostname", "ns", "--keep-daily", "7", "--kopia-path", kopia.path];
    const first = await runScript("kopia-backup", args, env);
    expect(first.exitCode, first.output).toBe(0);
    const before = await fingerprintFolder(repo);
    const callsBefore = (await kopia.commands()).length;
    const summaryFile = join(dir, "summary.json");

    const run = await runScript("kopia-backup", [...args, "--summary-file", summaryFile], { ...env, KOPIA_PASSWORD: "not the password" });

    expect(run.exitCode, run.output).toBe(5);
    expect((await kopia.commands()).slice(callsBefore)).toEqual(["policy set"]);
    expect(await fingerprintFolder(repo)).toEqual(before);
    const summary = (await summaryOf(summaryFile))!;
    expect(summary.volumes.map((volume) => [volume.username, volume.result, volume.exitCode])).toEqual([["data-a", "fatal", 5], ["data-b", "fatal", 5], ["data-c", "fatal", 5]]);
    for (const volume of summary.volumes) expect(volume.message).toMatch(/wrong password; set KOPIA_PASSWORD/);
  });

  test("SIGTERM during the first volume: it is incomplete, the others not started (exit 4); the repository opens with a fresh cache", async () => {
    const dir = await tempDir();
    const busy = join(dir, "volumes", "busy");
    await makeBusyCorpus(busy);
    const { volumes } = await threeVolumes(dir);
    const all = [{ path: busy, username: "big" }, volumes[1], volumes[2]];
    const repo = join(dir, "repo");
    const summaryFile = join(dir, "summary.json");
    const { env } = await isolatedKopiaEnv();
    const child = startScript("kopia-backup", ["--volumes", JSON.stringify(all), "--repository", `filesystem://${repo}`, "--hostname", "ns", "--source-path", "/data", "--summary-file", summaryFile, "--debug"], env);
    const output = collect(child);

    await waitForProcess(`snapshot create ${busy}`, "kopia snapshot create");
    await Bun.sleep(300);
    child.kill("SIGTERM");
    const run = await output;

    expect(run.exitCode, run.output).toBe(4);
    expect(run.output).toContain("SIGTERM received: cancelling the running snapshot");
    expect(await processesRunning(`snapshot create`)).not.toContainEqual(expect.stringContaining(busy));
    const summary = (await summaryOf(summaryFile))!;
    expect(summary.exitCode).toBe(4);
    // kopia saves what it has as incomplete; stopped before it had anything, it saves nothing.
    const [big, ...notStarted] = summary.volumes;
    expect(big).toMatchObject({ username: "big", exitCode: 4, result: expect.stringMatching(/^(incomplete|fatal)$/) });
    if (big!.result === "fatal") expect(big!.message).toContain("cancelled by a signal");
    expect(notStarted.map((volume) => [volume.username, volume.result, volume.exitCode])).toEqual([["data-b", "fatal", 4], ["data-c", "fatal", 4]]);
    expect(notStarted.map((volume) => volume.message)).toEqual(["not started (cancelled)", "not started (cancelled)"]);

    const fresh = await rawKopia(["filesystem", "--path", repo]);
    expect((await fresh.snapshots("big@ns:/data")).filter((snapshot) => !snapshot.incomplete)).toEqual([]);
    expect(await fresh.snapshots("data-b@ns:/data")).toEqual([]);
    expect(await fresh.snapshots("data-c@ns:/data")).toEqual([]);
  });

  test("secrets: no kopia call's argv and no log line holds the password", async () => {
    const dir = await tempDir();
    const { json } = await threeVolumes(dir);
    const { env } = await isolatedKopiaEnv();
    const kopia = await kopiaArgvRecorder();
    const run = await runScript("kopia-backup", ["--volumes", json, "--repository", `filesystem://${join(dir, "repo")}`, "--hostname", "ns", "--kopia-path", kopia.path, "--debug", "--log-format", "json"], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain("running kopia snapshot create");
    expect(run.output).not.toContain(TEST_PASSWORD);
    expect((await kopia.calls()).filter((call) => call.includes(TEST_PASSWORD))).toEqual([]);
    expect((await kopia.calls()).filter((call) => call.startsWith("snapshot create")).map((call) => /--override-source=(\S+)/.exec(call)?.[1])).toEqual(["data-a@ns:" + join(dir, "volumes", "0"), "data-b@ns:" + join(dir, "volumes", "1"), "data-c@ns:" + join(dir, "volumes", "2")]);
  });
});
