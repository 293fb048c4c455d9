/**
 * kopia-restore against real kopia: a MinIO repository with three snapshots of controlled times for
 * the selection, a filesystem repository for the round trip and the safety rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { chmod, chown, lchown, lstat, mkdir, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, kopiaArgvRecorder, rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { startMinio, type Minio } from "../support/minio.ts";
import { tempDir } from "../support/processes.ts";
import { collect, runScript, startScript } from "../support/scripts.ts";

/**
 * Every entry with type, owner, mode, a file's mtime (ns) and content hash or link target: what a
 * faithful restore keeps. Not a folder's mtime: kopia restores it as the newest mtime inside the
 * folder (its snapshotfs reads a folder's time from the folder's summary, by design).
 */
async function describeWithOwners(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const info = await lstat(path, { bigint: true });
      const owner = `${info.uid}:${info.gid} ${(Number(info.mode) & 0o7777).toString(8)}`;
      const rel = relative(root, path);
      if (info.isSymbolicLink()) lines.push(`${rel} link ${info.uid}:${info.gid} -> ${await readlink(path)}`);
      else if (info.isDirectory()) {
        lines.push(`${rel} dir ${owner}`);
        await walk(path);
      } else {
        lines.push(`${rel} file ${owner} ${info.mtimeNs} ${createHash("sha256").update(await readFile(path)).digest("hex")}`);
      }
    }
  };
  await walk(root);
  return lines;
}

/** Bytes in the content caches (kopia's `contents` folders) below a cache path. */
async function cachedContentBytes(cachePath: string): Promise<number> {
  let total = 0;
  for await (const file of new Bun.Glob("**/contents/**").scan({ cwd: cachePath, absolute: true, onlyFiles: true })) total += Bun.file(file).size;
  return total;
}

/** The error lines of a text log (info lines go to stderr too: kopia-restore's stdout is for data). */
const errorLines = (stderr: string) => stderr.split("\n").filter((line) => /^\S+ error /.test(line));

const summaryOf = async (file: string) => JSON.parse(await readFile(file, "utf8"));

describe("kopia-restore selection on MinIO (three snapshots with controlled times)", () => {
  let minio: Minio;
  let env: Record<string, string | undefined>;
  let repository: string;
  const ids: string[] = [];
  const times = ["2026-05-01 03:00:00 UTC", "2026-05-02 03:00:00 UTC", "2026-05-03 03:00:00 UTC"];

  beforeAll(async () => {
    minio = await startMinio();
    await minio.createBucket("restore");
    repository = `s3://restore/cluster?endpoint=${minio.endpoint}&insecure=true`;
    const storageArgs = ["s3", "--bucket=restore", "--prefix=cluster/", `--endpoint=${minio.endpoint}`, "--disable-tls"];
    const kopia = await rawKopia(storageArgs, minio.env);
    await kopia.run(["repository", "create", ...storageArgs, "--override-hostname=apps", "--override-username=data"]);
    const data = join(await tempDir(), "data");
    await mkdir(data);
    for (const [index, time] of times.entries()) {
      await writeFile(join(data, "version.txt"), `version ${index + 1}\n`);
      const out = await kopia.run(["snapshot", "create", data, "--json", `--override-source=data@apps:/data`, `--start-time=${time}`, "--no-auto-maintenance"]);
      ids.push(JSON.parse(out).id);
    }
    // Another PVC of the namespace, to show the PVC selects the source.
    await kopia.run(["snapshot", "create", data, "--json", `--override-source=cache@apps:/data`, "--no-auto-maintenance"]);
    env = (await isolatedKopiaEnv({ ...minio.env, KK_REPOSITORY: repository })).env;
  });
  afterAll(() => minio.stop());

  const restoreVersion = async (...selection: string[]) => {
    const target = join(await tempDir(), "restored");
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, ...selection], env);
    return { run, version: run.exitCode === 0 ? await readFile(join(target, "version.txt"), "utf8") : undefined };
  };

  test("latest by default; --offset and --as-of (boundaries included) pick the right snapshot", async () => {
    const cases: [string[], string][] = [
      [[], "version 3\n"],
      [["--offset", "1"], "version 2\n"],
      [["--offset", "2"], "version 1\n"],
      [["--as-of", "2026-05-02T03:00:00Z"], "version 2\n"], // exactly at the second's start
      [["--as-of", "2026-05-02T02:59:59.999999999Z"], "version 1\n"], // 1 ns before it
      [["--as-of", "2026-05-02T05:00:00+02:00"], "version 2\n"], // the same instant in another zone
      [["--as-of", "2026-05-03T12:00:00Z", "--offset", "1"], "version 2\n"],
      [["--snapshot", ids[0]!.slice(0, 12)], "version 1\n"],
    ];
    for (const [selection, expected] of cases) {
      const { run, version } = await restoreVersion(...selection);
      expect(run.exitCode, `${selection.join(" ")}: ${run.output}`).toBe(0);
      expect(version, selection.join(" ")).toBe(expected);
    }
  });

  test("no match is exit 8 naming the nearest snapshots, and nothing is written", async () => {
    const target = join(await tempDir(), "restored");
    const before = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--as-of", "2026-04-30T23:59:59Z"], env);
    expect(before.exitCode, before.output).toBe(8);
    expect(before.stderr).toContain(`the nearest after it: ${ids[0]} (2026-05-01T03:00:00Z)`);
    const tooFar = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--offset", "3"], env);
    expect(tooFar.exitCode, tooFar.output).toBe(8);
    expect(tooFar.stderr).toContain("--offset 3: only 3 complete snapshots of data@apps:*");
    const wrongPvc = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "nothing", "--target", target], env);
    expect(wrongPvc.exitCode, wrongPvc.output).toBe(8);
    expect(await Bun.file(target).exists()).toBe(false);
    expect(await readdir(join(target, "..")).catch(() => [])).toEqual([]);
  });

  test("--list: the source's snapshots newest first; --all adds the other PVC; --json", async () => {
    const list = await runScript("kopia-restore", ["--list", "--namespace", "apps", "--pvc", "data"], env);
    expect(list.exitCode, list.output).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+PVC\s+ID\s+TIME\s+FILES\s+SIZE\s+ERRORS$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/).slice(0, 4))).toEqual([
      ["apps", "data", ids[2]!, "2026-05-03T03:00:00Z"],
      ["apps", "data", ids[1]!, "2026-05-02T03:00:00Z"],
      ["apps", "data", ids[0]!, "2026-05-01T03:00:00Z"],
    ]);
    const all = await runScript("kopia-restore", ["--list", "--all"], env);
    expect(all.stdout.trimEnd().split("\n").slice(1).map((line) => line.split(/\s+/).slice(0, 2).join("/"))).toEqual(["apps/cache", "apps/data", "apps/data", "apps/data"]);
    const json = await runScript("kopia-restore", ["--list", "--namespace", "apps", "--json"], env);
    expect(JSON.parse(json.stdout).map((row: { pvc: string; id: string }) => `${row.pvc} ${row.id}`)).toEqual([expect.stringMatching(/^cache /), `data ${ids[2]}`, `data ${ids[1]}`, `data ${ids[0]}`]);
  });

  test("--dry-run names the snapshot and writes only the summary", async () => {
    const dir = await tempDir();
    const target = join(dir, "restored");
    const summaryFile = join(dir, "summary.json");
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--offset", "1", "--dry-run", "--summary-file", summaryFile], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr).toContain(`dry run: would restore 1 files, 10 B of snapshot ${ids[1]} into ${target} (to be created); nothing was written`);
    expect(await readdir(dir)).toEqual(["summary.json"]);
    expect(await summaryOf(summaryFile)).toMatchObject({ result: "dry-run", exitCode: 0, snapshotId: ids[1], snapshotTime: "2026-05-02T03:00:00Z", source: "data@apps:/data", expectedFiles: 1 });
  });

  test("connects read-only as restore@kopia-k8s; no secret in any kopia argv or any log line at --debug", async () => {
    const recorder = await kopiaArgvRecorder();
    const target = join(await tempDir(), "restored");
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--kopia-path", recorder.path, "--debug"], { ...env, KK_CONFIG_PATH: join(await tempDir(), "config") });
    expect(run.exitCode, run.output).toBe(0);
    const calls = await recorder.calls();
    expect(calls[0]).toMatch(/^repository connect s3 .* --override-hostname=kopia-k8s --override-username=restore .*--readonly$/);
    expect(await recorder.commands()).toEqual(["repository connect", "snapshot list", "snapshot restore"]);
    expect(run.output).toContain("running kopia snapshot restore"); // --debug really logged kopia's calls
    for (const secret of [TEST_PASSWORD, minio.secretKey]) {
      expect(calls.filter((call) => call.includes(secret))).toEqual([]);
      expect(run.output).not.toContain(secret);
    }
  });

  test("wrong password: exit 5, one line; an empty bucket: exit 5 and nothing written to it", async () => {
    const wrong = await runScript("kopia-restore", ["--list", "--all"], { ...(await isolatedKopiaEnv({ ...minio.env, KK_REPOSITORY: repository })).env, KOPIA_PASSWORD: "not the password" });
    expect(wrong.exitCode, wrong.output).toBe(5);
    expect(errorLines(wrong.stderr)).toHaveLength(1);
    expect(wrong.stderr).toContain("wrong password; set KOPIA_PASSWORD");
    await minio.createBucket("empty");
    const empty = await runScript("kopia-restore", ["--list", "--all"], { ...env, KK_REPOSITORY: `s3://empty?endpoint=${minio.endpoint}&insecure=true` });
    expect(empty.exitCode, empty.output).toBe(5);
    expect(errorLines(empty.stderr)).toHaveLength(1);
    expect(empty.stderr).toContain("not initialized: there is no Kopia repository there, so nothing to read (nothing was created)");
    expect(await minio.listObjects("empty")).toEqual([]);
  });
});

describe("kopia-restore on a filesystem repository", () => {
  let data: string;
  let repo: string;
  let env: Record<string, string | undefined>;
  let snapshotId: string;

  beforeAll(async () => {
    data = join(await tempDir(), "data");
    await makeCorpus(data, { largeFileMiB: 4 });
    // What only root can restore: foreign owners, a 0500 folder, setgid, owned symlinks, an empty folder.
    await mkdir(join(data, "app/locked"), { recursive: true });
    await writeFile(join(data, "app/config.yaml"), "uid: 1000\n");
    await writeFile(join(data, "app/locked/secret.txt"), "inside a read-only folder\n");
    await chown(join(data, "app/config.yaml"), 1000, 1000);
    await chmod(join(data, "app/config.yaml"), 0o640);
    await chown(join(data, "app/locked/secret.txt"), 1001, 1002);
    await chown(join(data, "app/locked"), 1000, 1000);
    await chmod(join(data, "app/locked"), 0o500);
    await chmod(join(data, "app"), 0o2750);
    await chown(join(data, "app"), 0, 1000);
    await symlink("config.yaml", join(data, "app/current"));
    await lchown(join(data, "app/current"), 1000, 1000);
    await mkdir(join(data, "app/empty-owned"));
    await chown(join(data, "app/empty-owned"), 1000, 1000);
    await utimes(join(data, "app/locked"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
    repo = join(await tempDir(), "repo");
    env = (await isolatedKopiaEnv({ KK_REPOSITORY: `filesystem://${repo}` })).env;
    const backup = await runScript("kopia-backup", ["--path", data, "--hostname", "apps", "--username", "data", "--source-path", "/data"], env);
    expect(backup.exitCode, backup.output).toBe(0);
    const kopia = await rawKopia(["filesystem", `--path=${repo}`]);
    snapshotId = (await kopia.snapshots("data@apps:/data"))[0]!.id;
  });

  test("round trip as root keeps owners, modes, mtimes, symlinks and empty folders; the summary counts it", async () => {
    const dir = await tempDir();
    const target = join(dir, "restored");
    const summaryFile = join(dir, "summary.json");
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--summary-file", summaryFile], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(await describeWithOwners(target)).toEqual(await describeWithOwners(data));
    const summary = await summaryOf(summaryFile);
    expect(summary).toMatchObject({ result: "restored", exitCode: 0, snapshotId, source: "data@apps:/data", target, skipped: 0, errors: 0, deleted: 0 });
    expect(summary.files).toBe(summary.expectedFiles);
    expect(summary.files).toBeGreaterThan(55);
    expect(summary.bytes).toBeGreaterThan(4 * 1024 * 1024);
  });

  test("a fresh volume's lone lost+found counts as empty: restored into, lost+found kept", async () => {
    const target = join(await tempDir(), "volume");
    await mkdir(join(target, "lost+found"), { recursive: true });
    await chmod(join(target, "lost+found"), 0o700);
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target], env);
    expect(run.exitCode, run.output).toBe(0);
    expect((await describeWithOwners(target)).filter((line) => !line.startsWith("lost+found"))).toEqual(await describeWithOwners(data));
    expect((await lstat(join(target, "lost+found"))).mode & 0o777).toBe(0o700);
  });

  test("a target that is not empty is refused with exit 9 and left byte-identical", async () => {
    const target = join(await tempDir(), "in-use");
    await mkdir(join(target, "app"), { recursive: true });
    await writeFile(join(target, "app/config.yaml"), "the live config\n");
    await writeFile(join(target, "empty.txt"), "not empty any more\n");
    await symlink("app", join(target, "link-to-folder"));
    const before = await describeWithOwners(target);
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target], env);
    expect(run.exitCode, run.output).toBe(9);
    expect(errorLines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain(`--target ${target}: not empty (3 entries: app, empty.txt, link-to-folder); nothing was written`);
    expect(await describeWithOwners(target)).toEqual(before);
    // A single file onto an existing one: refused the same way.
    const file = join(target, "empty.txt");
    const single = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--subpath", "empty.txt", "--target", file], env);
    expect(single.exitCode, single.output).toBe(9);
    expect(await describeWithOwners(target)).toEqual(before);
  });

  test("--overwrite replaces what differs and keeps extras; with --delete-extra the target mirrors the snapshot", async () => {
    const target = join(await tempDir(), "drifted");
    const restored = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target], env);
    expect(restored.exitCode, restored.output).toBe(0);
    await writeFile(join(target, "app/config.yaml"), "changed since the backup\n");
    await rm(join(target, "nested/small-3.bin"));
    await writeFile(join(target, "extra.txt"), "created after the backup\n");
    await mkdir(join(target, "extra-folder/inner"), { recursive: true });
    await rm(join(target, "link-to-leaf"));
    await symlink("somewhere-else", join(target, "link-to-leaf"));

    const overwrite = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--overwrite"], env);
    expect(overwrite.exitCode, overwrite.output).toBe(0);
    const expected = await describeWithOwners(data);
    const afterOverwrite = await describeWithOwners(target);
    expect(afterOverwrite.filter((line) => !/^extra/.test(line))).toEqual(expected);
    expect(afterOverwrite.filter((line) => /^extra/.test(line))).toHaveLength(3);

    const mirror = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--target", target, "--overwrite", "--delete-extra"], env);
    expect(mirror.exitCode, mirror.output).toBe(0);
    expect(await describeWithOwners(target)).toEqual(expected);
  });

  test("one file: --subpath into a new file, and --target - streams it to stdout byte for byte", async () => {
    const target = join(await tempDir(), "leaf.txt");
    const file = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--subpath", "app/locked/secret.txt", "--target", target], env);
    expect(file.exitCode, file.output).toBe(0);
    expect(await readFile(target, "utf8")).toBe("inside a read-only folder\n");
    expect(((await lstat(target)).uid)).toBe(1001);

    const child = startScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--subpath", "large.bin", "--target", "-"], env);
    const [bytes, stderr, exitCode] = await Promise.all([new Response(child.stdout).bytes(), new Response(child.stderr).text(), child.exited]);
    expect(exitCode, stderr).toBe(0);
    const hash = (content: Uint8Array) => createHash("sha256").update(content).digest("hex");
    expect(bytes.length).toBe(4 * 1024 * 1024);
    expect(hash(bytes)).toBe(hash(await readFile(join(data, "large.bin"))));

    const folder = await collect(startScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--subpath", "nested", "--target", "-"], env));
    expect(folder.exitCode, folder.output).toBe(2);
    expect(folder.stdout).toBe("");
    expect(folder.stderr).toContain("--target -: --subpath nested is a directory, and stdout takes one file");
  });

  test("what a restore read stays in kopia's content cache only up to a hard limit: half of --cache-size-mb, else 5,000 MB", async () => {
    // 48 MiB that does not compress, one content per file: kopia keeps what it reads in its content
    // cache, and sweeps nothing younger than 10 minutes until a hard limit is reached.
    const big = join(await tempDir(), "big");
    await mkdir(big);
    for (let index = 0; index < 48; index++) await writeFile(join(big, `f${index}.bin`), randomBytes(1 << 20));
    const backup = await runScript("kopia-backup", ["--path", big, "--hostname", "apps", "--username", "big", "--source-path", "/data"], env);
    expect(backup.exitCode, backup.output).toBe(0);
    const restoreIn = async (home: { home: string; env: Record<string, string | undefined> }, ...flags: string[]) => {
      const target = join(await tempDir(), "restored");
      const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "big", "--target", target, ...flags], home.env);
      expect(run.exitCode, run.output).toBe(0);
      expect(await readFile(join(target, "f47.bin"))).toEqual(await readFile(join(big, "f47.bin")));
      const cached = await cachedContentBytes(join(home.home, "cache"));
      const [config] = await Array.fromAsync(new Bun.Glob("**/restore@kopia-k8s.config").scan({ cwd: home.home, absolute: true }));
      return { cached, caching: JSON.parse(await readFile(config!, "utf8")).caching };
    };

    const bounded = await restoreIn(await isolatedKopiaEnv({ KK_REPOSITORY: `filesystem://${repo}` }), "--cache-size-mb", "16");
    expect(bounded.caching).toMatchObject({ maxCacheSize: 8 << 20, contentCacheSizeLimitBytes: 8 << 20 });
    // kopia sweeps before each write, so the writes in flight (8 at once, 1 MiB each) may pass the limit.
    expect(bounded.cached).toBeLessThanOrEqual((8 + 8) << 20);

    const byDefault = await restoreIn(await isolatedKopiaEnv({ KK_REPOSITORY: `filesystem://${repo}` }));
    expect(byDefault.caching).toMatchObject({ maxCacheSize: 5000 * 2 ** 20, contentCacheSizeLimitBytes: 5000 * 2 ** 20 });
    expect(byDefault.cached).toBeGreaterThan(40 << 20); // below the limit all 48 MiB stay: the bound above is kopia's doing
  });

  test("--subpath restores only that folder; a path not in the snapshot is exit 8", async () => {
    const target = join(await tempDir(), "app");
    const run = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--subpath", "/app/", "--target", target], env);
    expect(run.exitCode, run.output).toBe(0);
    const expected = (await describeWithOwners(join(data, "app")));
    expect(await describeWithOwners(target)).toEqual(expected);
    const missing = await runScript("kopia-restore", ["--namespace", "apps", "--pvc", "data", "--subpath", "app/nope", "--target", join(await tempDir(), "x")], env);
    expect(missing.exitCode, missing.output).toBe(8);
    expect(missing.stderr).toContain(`--subpath app/nope: not in snapshot ${snapshotId}`);
  });
});
