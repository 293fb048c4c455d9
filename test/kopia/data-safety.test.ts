import { describe, expect, test } from "bun:test";
import { chmod, chown, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, kopiaForAnyUser, rawKopia, TEST_PASSWORD } from "../support/kopia.ts";
import { startMinio } from "../support/minio.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

const IDENTITY = ["--hostname", "homelab", "--username", "photos"];
const SOURCE = "photos@homelab:/data";

async function dataFolder(): Promise<string> {
  const data = join(await tempDir(), "data");
  await makeCorpus(data, { largeFileMiB: 1 });
  return data;
}

/** Opened with plain kopia and a fresh cache: the newest snapshot of `source` restores to `data`. */
async function expectOpensAndRestores(storageArgs: string[], env: Record<string, string>, data: string, snapshotCount: number, source = SOURCE) {
  const kopia = await rawKopia(storageArgs, env);
  const snapshots = await kopia.snapshots(source);
  expect(snapshots).toHaveLength(snapshotCount);
  const restored = join(await tempDir(), "restored");
  await kopia.restore(snapshots.at(-1)!.id, restored);
  expect(await describeTree(restored)).toEqual(await describeTree(data));
}

/** Every file below a folder, as text (binary files too, enough to search for a string). */
async function allText(folder: string): Promise<string> {
  const files = await readdir(folder, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(files.filter((file) => file.isFile()).map((file) => readFile(join(file.parentPath, file.name), "latin1")));
  return texts.join("\n");
}

describe("1 one cache and one config per repository", () => {
  test("two filesystem repositories and one on MinIO, same identity and cache path, backed up in turn twice: each opens with a fresh cache and restores", async () => {
    const minio = await startMinio();
    await minio.createBucket("offsite");
    const data = await dataFolder();
    const { env } = await isolatedKopiaEnv(minio.env);
    const local = join(await tempDir(), "local");
    const usb = join(await tempDir(), "usb");
    const repositories = [
      { url: `filesystem://${local}`, password: TEST_PASSWORD, storageArgs: ["filesystem", "--path", local], storageEnv: {} },
      { url: `filesystem://${usb}`, password: "another password for the usb disk", storageArgs: ["filesystem", "--path", usb], storageEnv: {} },
      { url: `s3://offsite?endpoint=${minio.endpoint}&insecure=true`, password: TEST_PASSWORD, storageArgs: ["s3", "--bucket", "offsite", "--endpoint", minio.endpoint, "--disable-tls"], storageEnv: minio.env },
    ];
    for (const round of [1, 2]) {
      await writeFile(join(data, "round.txt"), `round ${round}\n`);
      for (const repository of repositories) {
        const run = await runScript("kopia-backup", ["--path", data, "--source-path", "/data", "--repository", repository.url, ...IDENTITY], { ...env, KOPIA_PASSWORD: repository.password });
        expect(run.exitCode, `${repository.url} round ${round}: ${run.output}`).toBe(0);
      }
    }
    for (const repository of repositories) {
      await expectOpensAndRestores(repository.storageArgs, { ...repository.storageEnv, KOPIA_PASSWORD: repository.password }, data, 2);
    }
  });

  test("a failed connect removes nothing outside that repository's own cache folder", async () => {
    const data = await dataFolder();
    const { env } = await isolatedKopiaEnv();
    const repository = `filesystem://${join(await tempDir(), "repo")}`;
    const cachePath = join(await tempDir(), "shared-cache");
    const created = await runScript("kopia-backup", ["--path", data, "--repository", repository, "--cache-path", cachePath, ...IDENTITY], env);
    expect(created.exitCode, created.output).toBe(0);
    await writeFile(join(cachePath, "keep-me.txt"), "someone else's file\n");

    // Another identity must connect, and its password is wrong: kopia removes the cache it was given.
    const wrong = await runScript("kopia-backup", ["--path", data, "--repository", repository, "--cache-path", cachePath, "--hostname", "homelab", "--username", "other"], { ...env, KOPIA_PASSWORD: "a wrong password" });
    expect(wrong.exitCode, wrong.output).toBe(5);
    expect(wrong.stderr).toContain("wrong password");
    expect(await Bun.file(join(cachePath, "keep-me.txt")).text()).toBe("someone else's file\n");
    await expectOpensAndRestores(["filesystem", `--path=${repository.slice("filesystem://".length)}`], {}, data, 1, `photos@homelab:${data}`);
  });
});

describe("1 one source per user", () => {
  test("two users without a passwd entry or $USER back up one folder as two Kopia sources, never as one 'root'", async () => {
    const minio = await startMinio();
    await minio.createBucket("users");
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const kopiaBinary = await kopiaForAnyUser(dir);
    const data = join(dir, "data");
    await mkdir(data);
    await chmod(data, 0o755);
    await writeFile(join(data, "shared.txt"), "one folder, two users\n");
    await chmod(join(data, "shared.txt"), 0o644);
    const repository = `s3://users?endpoint=${minio.endpoint}&insecure=true`;
    for (const uid of [64001, 64002]) {
      const home = join(dir, `home-${uid}`);
      await mkdir(home);
      await chown(home, uid, uid);
      const run = await runScript("kopia-backup", ["--path", data, "--repository", repository, "--kopia-path", kopiaBinary, "--hostname", "homelab"], { HOME: home, KOPIA_PASSWORD: TEST_PASSWORD, USER: undefined, ...minio.env }, { asUser: uid });
      expect(run.exitCode, run.output).toBe(0);
      expect(run.output).toContain(`as uid-${uid}@homelab:${data}`);
    }
    const kopia = await rawKopia(["s3", "--bucket", "users", "--endpoint", minio.endpoint, "--disable-tls"], minio.env);
    await kopia.ensureConnected();
    const sources = JSON.parse(await kopia.run(["snapshot", "list", "--all", "--json"])) as { source: { userName: string } }[];
    expect(sources.map((snapshot) => snapshot.source.userName).sort()).toEqual(["uid-64001", "uid-64002"]);
    await expectOpensAndRestores(["s3", "--bucket", "users", "--endpoint", minio.endpoint, "--disable-tls"], minio.env, data, 1, `uid-64001@homelab:${data}`);
  });
});

describe("2 one creator per repository", () => {
  test("five kopia-backup processes at once on an empty bucket, ten times: every run succeeds and the repository opens with a fresh cache", async () => {
    const minio = await startMinio();
    const data = join(await tempDir(), "data");
    await Bun.write(join(data, "small.txt"), "the race is about the repository, not the data\n");
    for (let round = 0; round < 10; round++) {
      const bucket = `race-${round}`;
      await minio.createBucket(bucket);
      const { env } = await isolatedKopiaEnv(minio.env);
      const runs = await Promise.all(
        [0, 1, 2, 3, 4].map((index) =>
          runScript("kopia-backup", ["--path", data, "--source-path", "/data", "--repository", `s3://${bucket}?endpoint=${minio.endpoint}&insecure=true`, "--hostname", "homelab", "--username", `pvc-${index}`], env),
        ),
      );
      for (const run of runs) expect(run.exitCode, `round ${round}: ${run.output}`).toBe(0);
      expect(runs.filter((run) => run.output.includes("creating a new Kopia repository"))).toHaveLength(1);
      const kopia = await rawKopia(["s3", "--bucket", bucket, "--endpoint", minio.endpoint, "--disable-tls"], minio.env);
      await kopia.ensureConnected();
      const snapshots = JSON.parse(await kopia.run(["snapshot", "list", "--all", "--json"])) as { source: { userName: string } }[];
      expect(snapshots.map((snapshot) => snapshot.source.userName).sort()).toEqual(["pvc-0", "pvc-1", "pvc-2", "pvc-3", "pvc-4"]);
      const restored = join(await tempDir(), "restored");
      await kopia.restore("pvc-4@homelab:/data", restored);
      expect(await describeTree(restored)).toEqual(await describeTree(data));
    }
  }, 300_000);

  test("--no-create on empty storage: exit 5 with the way out, nothing written", async () => {
    const data = await dataFolder();
    const { env } = await isolatedKopiaEnv();
    const repository = join(await tempDir(), "repo");
    const run = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repository}`, "--no-create"], env);
    expect(run.exitCode, run.output).toBe(5);
    expect(run.stderr).toContain("not initialized; run kopia-backup once to create it");
    expect(await readdir(repository).catch(() => [])).toEqual([]);
    const fromEnv = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repository}`], { ...env, KK_CREATE: "false" });
    expect(fromEnv.exitCode, fromEnv.output).toBe(5);
  });
});

describe("a snapshot kopia could not write", () => {
  test("storage that refuses writes: no snapshot is reported as saved, the run fails (not 'partial'), and retention's refusal is not called bad input", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const kopiaBinary = await kopiaForAnyUser(dir);
    const data = join(dir, "data");
    await mkdir(data);
    await writeFile(join(data, "readable.txt"), "readable\n");
    await writeFile(join(data, "root-only.txt"), "only root may read this\n", { mode: 0o600 });
    await chmod(data, 0o755);
    const home = join(dir, "home");
    await mkdir(home);
    await chown(home, 65534, 65534);
    const repository = join(dir, "repo");
    await mkdir(repository);
    await chown(repository, 65534, 65534);
    const run = (extra: string[] = []) =>
      runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repository}`, "--kopia-path", kopiaBinary, ...IDENTITY, ...extra], { HOME: home, KOPIA_PASSWORD: TEST_PASSWORD }, { asUser: 65534 });
    const first = await run();
    expect(first.exitCode, first.output).toBe(3); // partial: root-only.txt is unreadable for nobody
    // From now on the repository refuses every write (as a read-only mount would).
    Bun.spawnSync(["chmod", "-R", "a-w", repository]);
    await writeFile(join(data, "new.txt"), "new data that cannot be stored\n");
    const refused = await run();
    expect([0, 3], refused.output).not.toContain(refused.exitCode);
    expect(refused.output).not.toMatch(/partial: .*snapshot [0-9a-f]+ saved/);
    const withRetention = await run(["--keep-daily", "7"]);
    expect(withRetention.exitCode, withRetention.output).toBe(5);
    expect(withRetention.stderr).toContain("setting the retention policy failed");
    Bun.spawnSync(["chmod", "-R", "u+w", repository]);
    const kopia = await rawKopia(["filesystem", "--path", repository]);
    expect(await kopia.snapshots(`photos@homelab:${data}`)).toHaveLength(1); // only the first run's
  });
});

describe("3 credentials that rotate", () => {
  test("the MinIO key rotated between two runs: the second run uses the new key from the environment; no config holds a key", async () => {
    const minio = await startMinio();
    await minio.createBucket("rotate");
    const data = await dataFolder();
    const { env, home } = await isolatedKopiaEnv();
    const repository = `s3://rotate?endpoint=${minio.endpoint}&insecure=true`;
    const first = await runScript("kopia-backup", ["--path", data, "--source-path", "/data", "--repository", repository, ...IDENTITY], { ...env, ...minio.env });
    expect(first.exitCode, first.output).toBe(0);
    expect(await allText(home)).not.toContain(minio.secretKey);

    await minio.stop();
    const rotated = await startMinio({ dataDir: minio.dataDir, port: minio.port, secretKey: `rotated-${crypto.randomUUID()}` });
    const second = await runScript("kopia-backup", ["--path", data, "--source-path", "/data", "--repository", repository, ...IDENTITY], { ...env, ...rotated.env });
    expect(second.exitCode, second.output).toBe(0);
    expect(await allText(home)).not.toContain(rotated.secretKey);
    await expectOpensAndRestores(["s3", "--bucket", "rotate", "--endpoint", rotated.endpoint, "--disable-tls"], rotated.env, data, 2);
  });
});

describe("4 values kopia would read again, secrets in JSON logs, long identities", () => {
  test("S3 prefixes starting with '-' and '@' reach kopia as one --prefix=value word and round-trip", async () => {
    const minio = await startMinio();
    await minio.createBucket("odd");
    const data = await dataFolder();
    for (const prefix of ["-dash", "@at"]) {
      const { env } = await isolatedKopiaEnv(minio.env);
      const run = await runScript("kopia-backup", ["--path", data, "--source-path", "/data", "--repository", `s3://odd/${prefix}?endpoint=${minio.endpoint}&insecure=true`, ...IDENTITY], env);
      expect(run.exitCode, run.output).toBe(0);
      expect((await minio.listObjects("odd")).some((object) => object.startsWith(`${prefix}/kopia.repository`))).toBe(true);
      await expectOpensAndRestores(["s3", "--bucket", "odd", `--prefix=${prefix}/`, "--endpoint", minio.endpoint, "--disable-tls"], minio.env, data, 1);
    }
  });

  test("a password holding '\"' and '\\' that kopia echoes is masked in JSON and text logs at --debug", async () => {
    const data = await dataFolder();
    const password = `pa"ss\\word-${crypto.randomUUID()}`;
    const { env } = await isolatedKopiaEnv({ KOPIA_PASSWORD: password });
    const wrapper = join(await tempDir(), "kopia");
    await writeFile(wrapper, `#!/bin/sh\necho "ERROR a kopia that talks: $KOPIA_PASSWORD" >&2\nexec kopia "$@"\n`, { mode: 0o755 });
    const repository = `filesystem://${join(await tempDir(), "repo")}`;
    for (const format of ["json", "text"]) {
      const run = await runScript("kopia-backup", ["--path", data, "--repository", repository, ...IDENTITY, "--kopia-path", wrapper, "--debug", "--log-format", format], env);
      expect(run.exitCode, run.output).toBe(0);
      expect(run.output).toContain("a kopia that talks: ***");
      expect(run.output).not.toContain(password);
      expect(run.output).not.toContain(JSON.stringify(password).slice(1, -1));
      expect(run.output).not.toContain("word-");
    }
    await expectOpensAndRestores(["filesystem", `--path=${repository.slice("filesystem://".length)}`], { KOPIA_PASSWORD: password }, data, 2, `photos@homelab:${data}`);
  });

  test("namespace and PVC names at their longest: the config file name stays within 255 bytes", async () => {
    const data = await dataFolder();
    const { env } = await isolatedKopiaEnv();
    const repository = join(await tempDir(), "repo");
    const username = `p${"v".repeat(251)}c`;
    const hostname = `n${"s".repeat(61)}x`;
    const run = await runScript("kopia-backup", ["--path", data, "--source-path", "/data", "--repository", `filesystem://${repository}`, "--hostname", hostname, "--username", username], env);
    expect(run.exitCode, run.output).toBe(0);
    await expectOpensAndRestores(["filesystem", "--path", repository], {}, data, 1, `${username}@${hostname}:/data`);
  });
});
