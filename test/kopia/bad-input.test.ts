/**
 * Bad input: every case gives one error line that names the problem, a documented exit code,
 * and leaves the repository exactly as it was. Cases:
 *  1 missing --path                 2  9 unknown URL parameter (typo)     17 wrong password                5
 *  2 relative --path                2 10 no password                      18 foreign data at the location  5
 *  3 nonexistent folder             2 11 two passwords that differ        19 unreachable S3 endpoint       5
 *  4 --path is a file               2 12 retention not a number           20 S3 bucket missing             5
 *  5 no repository                  2 13 negative retention               21 unreadable file → partial     3
 *  6 unknown URL scheme             2 14 tag without key:value            22 bad pushgateway URL           2
 *  7 relative filesystem repository 2 15 unknown log format               23 hostname with a slash         2
 *  8 credentials inside the URL     2 16 unknown flag                     24 relative metrics file         2
 * 17b wrong password on a reused connection, with retention (kopia first meets it at `policy set`) 5
 * --volumes: 25 with --path 2, 26 with KK_USERNAME 2, 27 bad JSON 2, 28 empty array 2, 29 duplicate
 *   username 2, 30 relative path 2, 31 missing volume path 2, 32 volume folder that does not exist 2
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fingerprintFolder } from "../support/corpus.ts";
import { TEST_PASSWORD, isolatedKopiaEnv, kopiaArgvRecorder, kopiaForAnyUser } from "../support/kopia.ts";
import { startMinio, type Minio } from "../support/minio.ts";
import { freePort, tempDir } from "../support/processes.ts";
import { runScript, type ScriptRun } from "../support/scripts.ts";

let data: string;
let repo: string;
let env: Record<string, string | undefined>;
let minio: Minio;

beforeAll(async () => {
  const dir = await tempDir();
  data = join(dir, "data");
  repo = join(dir, "repo");
  await mkdir(data);
  await writeFile(join(data, "file.txt"), "content\n");
  env = (await isolatedKopiaEnv()).env;
  const created = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`], env);
  expect(created.exitCode, created.output).toBe(0);
  minio = await startMinio();
});
function expectOneLineError(run: ScriptRun, exitCode: number, pattern: RegExp) {
  expect(run.exitCode, run.output).toBe(exitCode);
  const errorLines = run.stderr.split("\n").filter((line) => line.trim());
  expect(errorLines, run.output).toHaveLength(1);
  expect(errorLines[0]).toMatch(pattern);
}

type Case = { name: string; args: () => string[]; env?: () => Record<string, string | undefined>; exit: number; error: RegExp };

const withRepo = (...extra: string[]) => () => ["--path", data, "--repository", `filesystem://${repo}`, ...extra];

const usageCases: Case[] = [
  { name: "1 missing --path", args: () => ["--repository", `filesystem://${repo}`], exit: 2, error: /--path: no folder to back up; set --path or KK_BACKUP_PATH/ },
  { name: "2 relative --path", args: () => ["--path", "data", "--repository", `filesystem://${repo}`], exit: 2, error: /--path: 'data' must be an absolute path/ },
  { name: "3 nonexistent folder", args: () => ["--path", "/nonexistent/volume", "--repository", `filesystem://${repo}`], exit: 2, error: /--path: '\/nonexistent\/volume' does not exist/ },
  { name: "4 --path is a file", args: () => ["--path", join(data, "file.txt"), "--repository", `filesystem://${repo}`], exit: 2, error: /--path: .* is not a folder/ },
  { name: "5 no repository", args: () => ["--path", data], exit: 2, error: /--repository: no repository given; set --repository or KK_REPOSITORY/ },
  { name: "6 unknown URL scheme", args: () => ["--path", data, "--repository", "ftp://host/backups"], exit: 2, error: /--repository: unknown scheme 'ftp:'.*use one of: filesystem:/ },
  { name: "7 relative filesystem repository", args: () => ["--path", data, "--repository", "filesystem://backups/here"], exit: 2, error: /--repository: .* needs an absolute folder, e.g. filesystem:\/\/\/srv\/backups/ },
  { name: "8 credentials inside the URL", args: () => ["--path", data, "--repository", "s3://AKIAEXAMPLE:hunter2secret@bucket?endpoint=127.0.0.1:9"], exit: 2, error: /--repository: the URL must not hold credentials; pass them in the environment/ },
  { name: "9 unknown URL parameter", args: () => ["--path", data, "--repository", "s3://bucket?endpont=127.0.0.1:9"], exit: 2, error: /--repository: unknown parameter 'endpont'/ },
  { name: "10 no password", args: withRepo(), env: () => ({ KOPIA_PASSWORD: undefined }), exit: 2, error: /password: none given; set KOPIA_PASSWORD \(or KK_ENCRYPTION_PASSWORD\)/ },
  { name: "11 two passwords that differ", args: withRepo(), env: () => ({ KK_ENCRYPTION_PASSWORD: "something else" }), exit: 2, error: /KOPIA_PASSWORD and KK_ENCRYPTION_PASSWORD differ; set only one/ },
  { name: "12 retention not a number", args: withRepo("--keep-daily", "seven"), exit: 2, error: /--keep-daily: 'seven' is not a whole number/ },
  { name: "13 negative retention", args: withRepo("--keep-weekly=-1"), exit: 2, error: /--keep-weekly: '-1' is not a whole number/ },
  { name: "14 tag without key:value", args: withRepo("--tag", "nightly"), exit: 2, error: /--tag: 'nightly' must be key:value/ },
  { name: "15 unknown log format", args: withRepo("--log-format", "xml"), exit: 2, error: /--log-format: 'xml' is not a log format; use text or json/ },
  { name: "16 unknown flag", args: withRepo("--keep-forever", "1"), exit: 2, error: /Unknown option `--keepForever`|Unknown option `--keep-forever`/ },
  { name: "22 bad pushgateway URL", args: withRepo("--pushgateway-url", "pushgateway:9091"), exit: 2, error: /--pushgateway-url: 'pushgateway:9091' is not an http\(s\) URL/ },
  { name: "23 hostname with a slash", args: withRepo("--hostname", "ns/pvc"), exit: 2, error: /--hostname: 'ns\/pvc' may hold only letters, digits/ },
  { name: "24 relative metrics file", args: withRepo("--metrics-file", "kopia.prom"), exit: 2, error: /--metrics-file: 'kopia.prom' must be an absolute path/ },
  { name: "25 --volumes with --path", args: () => ["--volumes", volumes(), "--path", data, "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: --path must not be given with it, each volume has its own "path" and "username"; remove --path \(KK_BACKUP_PATH\)/ },
  { name: "26 --volumes with KK_USERNAME", args: () => ["--volumes", volumes(), "--repository", `filesystem://${repo}`], env: () => ({ KK_USERNAME: "data" }), exit: 2, error: /--volumes: --username must not be given with it.*; remove --username \(KK_USERNAME\)/ },
  { name: "27 --volumes not JSON", args: () => ["--volumes", "[{path: /volumes/0}]", "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: not valid JSON \(.*\); give an array such as \[\{"path":"\/volumes\/0","username":"data"/ },
  { name: "28 --volumes empty array", args: () => ["--volumes", "[]", "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: give a non-empty JSON array of volumes, e.g. \[/ },
  { name: "29 --volumes duplicate username", args: () => ["--volumes", volumes("data", "data"), "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: username 'data' is given to volumes 1 and 2; give each volume its own/ },
  { name: "30 --volumes relative path", args: () => ["--volumes", JSON.stringify([{ path: "volumes/0", username: "data" }]), "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: volume 1: path 'volumes\/0' must be an absolute path, e.g. \/volumes\/0/ },
  { name: "31 --volumes missing path", args: () => ["--volumes", JSON.stringify([{ username: "data" }]), "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: volume 1 has no "path"; give the folder to back up/ },
  { name: "32 --volumes folder that does not exist", args: () => ["--volumes", JSON.stringify([{ path: data, username: "a" }, { path: "/nonexistent/volume", username: "b" }]), "--repository", `filesystem://${repo}`], exit: 2, error: /--volumes: volume 2 \(b\): '\/nonexistent\/volume' does not exist; mount or create it, or fix the path/ },
];

/** --volumes naming the test's folder once per username. */
const volumes = (...usernames: string[]) => JSON.stringify((usernames.length ? usernames : ["data"]).map((username) => ({ path: data, username })));

describe("kopia-backup refuses bad input with one line and exit 2, repository untouched", () => {
  for (const c of usageCases) {
    test(c.name, async () => {
      const before = await fingerprintFolder(repo);
      const run = await runScript("kopia-backup", c.args(), { ...env, ...c.env?.() });
      expectOneLineError(run, c.exit, c.error);
      expect(run.output).not.toContain("hunter2secret");
      expect(await fingerprintFolder(repo)).toEqual(before);
    });
  }
});

describe("kopia-backup repository failures: exit 5, storage untouched", () => {
  test("17 wrong password: connect is the only kopia call", async () => {
    const before = await fingerprintFolder(repo);
    const kopia = await kopiaArgvRecorder();
    const run = await runScript("kopia-backup", withRepo("--kopia-path", kopia.path)(), { ...(await isolatedKopiaEnv()).env, KOPIA_PASSWORD: "not the password" });
    expectOneLineError(run, 5, /wrong password; set KOPIA_PASSWORD \(or KK_ENCRYPTION_PASSWORD\) to the repository's password/);
    expect(await kopia.commands()).toEqual(["repository connect"]);
    expect(await fingerprintFolder(repo)).toEqual(before);
  });

  test("17b wrong password on a reused connection, with retention: exit 5, not a retention error", async () => {
    const before = await fingerprintFolder(repo);
    const run = await runScript("kopia-backup", withRepo("--keep-daily", "7")(), { ...env, KOPIA_PASSWORD: "not the password" });
    expectOneLineError(run, 5, /wrong password; set KOPIA_PASSWORD \(or KK_ENCRYPTION_PASSWORD\) to the repository's password/);
    expect(await fingerprintFolder(repo)).toEqual(before);
  });

  test("18 foreign data at the repository location", async () => {
    const foreign = await tempDir();
    await writeFile(join(foreign, "family-photos.jpg"), "not kopia");
    const before = await fingerprintFolder(foreign);
    const run = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${foreign}`], env);
    expectOneLineError(run, 5, /holds data that is not a Kopia repository/);
    expect(await fingerprintFolder(foreign)).toEqual(before);
  });

  test("18b foreign data in an S3 bucket", async () => {
    await minio.createBucket("foreign");
    await minio.putObject("foreign", "notes.txt", "someone else's data");
    const before = await minio.listObjects("foreign");
    const run = await runScript("kopia-backup", ["--path", data, "--repository", `s3://foreign?endpoint=${minio.endpoint}&insecure=true`], { ...env, ...minio.env });
    expectOneLineError(run, 5, /holds data that is not a Kopia repository/);
    expect(await minio.listObjects("foreign")).toEqual(before);
  });

  test("19 unreachable S3 endpoint", async () => {
    const run = await runScript("kopia-backup", ["--path", data, "--repository", `s3://bucket?endpoint=127.0.0.1:${freePort()}&insecure=true`], { ...env, ...minio.env });
    expectOneLineError(run, 5, /storage unreachable \(.*connection refused.*\); check the endpoint/);
  });

  test("20 S3 bucket missing", async () => {
    const run = await runScript("kopia-backup", ["--path", data, "--repository", `s3://no-such-bucket?endpoint=${minio.endpoint}&insecure=true`], { ...env, ...minio.env });
    expectOneLineError(run, 5, /the bucket does not exist; create it first/);
    await expect(minio.listObjects("no-such-bucket")).rejects.toThrow(/404/);
  });
});

describe("kopia-backup partial backup", () => {
  test("21 unreadable file: snapshot saved without it, exit 3, the file named", async () => {
    // Root reads everything, so this runs as nobody: the secret file stays root-only.
    const dir = await tempDir();
    await chmod(dir, 0o777);
    const volume = join(dir, "volume");
    await mkdir(volume, { mode: 0o755 });
    await writeFile(join(volume, "readable.txt"), "fine\n", { mode: 0o644 });
    await writeFile(join(volume, "root-only.txt"), "secret\n", { mode: 0o600 });
    const kopiaBinary = await kopiaForAnyUser(dir);
    const home = join(dir, "home");
    await mkdir(home, { mode: 0o777 });
    await chown(home, 65534, 65534);
    const run = await runScript(
      "kopia-backup",
      ["--path", volume, "--repository", `filesystem://${join(dir, "repo")}`, "--summary-file", join(home, "summary.json"), "--kopia-path", kopiaBinary],
      { HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache"), KOPIA_PASSWORD: TEST_PASSWORD },
      { asUser: 65534 },
    );
    expect(run.exitCode, run.output).toBe(3);
    expect(run.output).toContain("partial:");
    expect(run.output).toMatch(/unreadable: root-only.txt: .*permission denied/);
    const summary = JSON.parse(await Bun.file(join(home, "summary.json")).text());
    expect(summary).toMatchObject({ result: "partial", exitCode: 3, files: 1, errors: 1 });
  });
});
