/**
 * Every advertised backend against a real server on 127.0.0.1: OpenSSH's sshd (sftp://), Azurite
 * (azure://), rclone's WebDAV server (webdav+http://, and rclone: through an rclone WebDAV remote)
 * and fake-gcs-server (gcs://). B2 has no local server; its mapping is unit-tested only.
 * For each: a kopia-backup round trip at --debug (restore identical, second run incremental, no
 * credential in any kopia argv, the output or kopia's logs) and a wrong credential (exit 5, one
 * line, nothing written); for backends whose credentials live in kopia's config, a rotation.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startAzurite, type Azurite } from "../support/azurite.ts";
import { allText, argvRecordingKopia, rawKopiaOn, runBackup, type BackendAccess } from "../support/backend-runs.ts";
import { describeTree, fingerprintFolder, makeCorpus } from "../support/corpus.ts";
import { startFakeGcs } from "../support/fake-gcs.ts";
import { isolatedKopiaEnv, TEST_PASSWORD } from "../support/kopia.ts";
import { tempDir } from "../support/processes.ts";
import type { ScriptRun } from "../support/scripts.ts";
import { startSshd, type Sshd } from "../support/sshd.ts";
import { startWebdav, type Webdav } from "../support/webdav.ts";

const MiB = 1024 * 1024;
const CORPUS_MIB = 20;
const IDENTITY = ["--hostname", "namespace-a", "--username", "pvc-a", "--source-path", "/data", "--tag", "pvc:a"];
const SOURCE = "pvc-a@namespace-a:/data";

async function corpus(largeFileMiB = CORPUS_MIB): Promise<string> {
  const data = join(await tempDir(), "data");
  await makeCorpus(data, { largeFileMiB });
  return data;
}

const sumSizes = (lines: string[]) => lines.reduce((total, line) => total + Number(line.split(" ").at(-2)), 0);

/**
 * Two kopia-backup runs, the first at --debug through an argv-recording kopia; then raw kopia
 * restores the newest snapshot. `storedBytes` measures the storage on the server's side.
 */
async function roundTrip(access: BackendAccess, secrets: string[], storedBytes: () => Promise<number>): Promise<string[]> {
  const data = await corpus();
  const { home, env } = await isolatedKopiaEnv(access.env);
  const kopia = await argvRecordingKopia();
  const args = ["--path", data, "--repository", access.repository, ...IDENTITY, "--kopia-path", kopia.binary];

  const first = await runBackup(access, [...args, "--debug"], env);
  expect(first.exitCode, first.output).toBe(0);
  expect(first.output).toContain(`success: ${SOURCE}`);
  expect(first.output).toContain("running kopia snapshot create"); // --debug really showed kopia's calls
  const afterFirst = await storedBytes();
  expect(afterFirst).toBeGreaterThan(CORPUS_MIB * MiB);

  await appendFile(join(data, "nested/deeper/deepest/leaf.txt"), "changed\n");
  const second = await runBackup(access, args, env);
  expect(second.exitCode, second.output).toBe(0);
  expect((await storedBytes()) - afterFirst).toBeLessThan(2 * MiB); // incremental

  const calls = await kopia.calls();
  expect(calls.filter((call) => call.startsWith("snapshot create"))).toHaveLength(2);
  const logs = await allText(join(home, "cache", "kopia-k8s", "logs"));
  expect(logs).toContain("snapshot create"); // kopia's own logs were written, and are searched
  for (const secret of [TEST_PASSWORD, ...secrets]) {
    expect(calls.filter((call) => call.includes(secret))).toEqual([]);
    expect(first.output + second.output).not.toContain(secret);
    expect(logs.includes(secret), "a credential in kopia's logs").toBe(false);
  }

  const raw = await rawKopiaOn(access);
  const snapshots = await raw.snapshots(SOURCE);
  expect(snapshots).toHaveLength(2);
  expect(snapshots.every((snapshot) => snapshot.source.path === "/data" && !snapshot.incomplete)).toBe(true);
  expect(snapshots[1]!.tags).toEqual({ "tag:pvc": "a" });
  const restored = join(await tempDir(), "restored");
  await raw.restore(snapshots[1]!.id, restored);
  expect(await describeTree(restored)).toEqual(await describeTree(data));
  return calls;
}

function expectOneLineError(run: ScriptRun, exitCode: number, pattern: RegExp) {
  expect(run.exitCode, run.output).toBe(exitCode);
  const errorLines = run.stderr.split("\n").filter((line) => line.trim());
  expect(errorLines, run.output).toHaveLength(1);
  expect(errorLines[0]).toMatch(pattern);
}

/** A run that must fail with exit 5 and one line, leaving the server's storage as it was. */
async function expectRefused(access: BackendAccess, storageState: () => Promise<unknown>, pattern: RegExp, secrets: string[] = []) {
  const before = await storageState();
  const { env } = await isolatedKopiaEnv(access.env);
  const run = await runBackup(access, ["--path", await corpus(1), "--repository", access.repository], env);
  expectOneLineError(run, 5, pattern);
  for (const secret of secrets) expect(run.output).not.toContain(secret);
  expect(await storageState()).toEqual(before);
}

/** Two runs with one HOME (so the second reuses the connection); the server's credential changes in between. */
async function expectRotationFollowed(access: () => BackendAccess, rotate: () => Promise<void>) {
  const data = await corpus(1);
  const { env } = await isolatedKopiaEnv();
  const args = () => ["--path", data, "--repository", access().repository, ...IDENTITY];
  const first = await runBackup(access(), args(), { ...env, ...access().env });
  expect(first.exitCode, first.output).toBe(0);
  await rotate();
  const second = await runBackup(access(), args(), { ...env, ...access().env });
  expect(second.exitCode, second.output).toBe(0);
  expect(second.output).toContain(`success: ${SOURCE}`);
  expect(await (await rawKopiaOn(access())).snapshots(SOURCE)).toHaveLength(2);
}

describe("sftp:// on a real OpenSSH sshd", () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  const access = (path: string, keyfile = sshd.clientKey, knownHosts = sshd.knownHosts): BackendAccess => ({
    repository: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.repositories}/${path}?keyfile=${keyfile}&known-hosts=${knownHosts}`,
    storageArgs: ["sftp", "--host=127.0.0.1", `--port=${sshd.port}`, `--username=${sshd.user}`, `--path=${sshd.repositories}/${path}`, `--keyfile=${keyfile}`, `--known-hosts=${knownHosts}`],
    env: {},
  });
  const stored = () => fingerprintFolder(sshd.repositories);

  test("round trip at --debug: restore identical, second run incremental, the private key in no argv, output or log", async () => {
    await roundTrip(access("round-trip"), [(await sshd.clientKeyText()).split("\n")[1]!], async () => sumSizes(await stored()));
  });

  test("a key the server does not know: exit 5, one line, nothing written", async () => {
    await expectRefused(access("stranger", await sshd.unknownClientKey()), stored, /error +repository sftp:\/\/.*: .*ssh: unable to authenticate/);
  });

  test("a host key other than known_hosts names (a man in the middle): exit 5, one line, nothing written", async () => {
    await expectRefused(access("mitm", sshd.clientKey, await sshd.foreignKnownHosts()), stored, /error +repository sftp:\/\/.*: .*knownhosts: key mismatch/);
  });
});

describe("azure:// on a real Azurite", () => {
  let azurite: Azurite;
  beforeAll(async () => {
    azurite = await startAzurite();
    await azurite.createContainer("backups");
  });
  const access = (prefix: string, env: Record<string, string> = azurite.env()): BackendAccess => ({
    repository: `azure://backups/${prefix}?storage-domain=${azurite.storageDomain}`,
    storageArgs: ["azure", "--container=backups", `--prefix=${prefix}/`, `--storage-domain=${azurite.storageDomain}`],
    env,
    wrap: azurite.inHostsNamespace,
  });
  const blobs = () => azurite.listBlobs("backups");

  test("round trip at --debug: restore identical, second run incremental, the account key in no argv, output or log", async () => {
    await roundTrip(access("round-trip"), [azurite.key], async () => (await blobs()).reduce((total, blob) => total + blob.size, 0));
  });

  test("a wrong account key: exit 5, one line, nothing written", async () => {
    const wrongKey = azurite.newKey();
    await expectRefused(access("wrong-key", { ...azurite.env(), AZURE_STORAGE_KEY: wrongKey }), blobs, /error +repository azure:\/\/backups\/wrong-key\?.*: .*AuthorizationFailure/, [wrongKey]);
  });

  test("the account key rotated between two runs: the second run uses the new key from the environment", async () => {
    await expectRotationFollowed(() => access("rotation"), () => azurite.setKey());
  });
});

describe("webdav+http:// on a real WebDAV server (rclone serve webdav)", () => {
  let webdav: Webdav;
  beforeAll(async () => {
    webdav = await startWebdav();
  });
  const access = (path: string, env: Record<string, string> = webdav.env()): BackendAccess => ({
    repository: webdav.url(path),
    storageArgs: ["webdav", `--url=http://127.0.0.1:${webdav.port}/${path}`],
    env,
  });
  const stored = () => fingerprintFolder(webdav.root);

  test("round trip at --debug: restore identical, second run incremental, the password in no argv, output or log", async () => {
    await webdav.makeFolder("round-trip");
    await roundTrip(access("round-trip"), [webdav.password], async () => sumSizes(await stored()));
  });

  test("a wrong password: exit 5, one line, nothing written", async () => {
    await webdav.makeFolder("wrong-password");
    await expectRefused(access("wrong-password", { ...webdav.env(), KOPIA_WEBDAV_PASSWORD: "not-the-password-4711" }), stored, /error +repository webdav\+http:\/\/.*\/wrong-password: .*401/, ["not-the-password-4711"]);
  });

  test("a wrong password on a connection that worked before: exit 5 promptly, not minutes of kopia retrying a 401", async () => {
    await webdav.makeFolder("reused");
    const data = await corpus(1);
    const { env } = await isolatedKopiaEnv(webdav.env());
    const args = ["--path", data, "--repository", webdav.url("reused"), ...IDENTITY];
    const first = await runBackup(access("reused"), args, env);
    expect(first.exitCode, first.output).toBe(0);
    const started = Date.now();
    const wrong = await runBackup(access("reused"), args, { ...env, KOPIA_WEBDAV_PASSWORD: "not-the-password-0815" });
    expect(wrong.exitCode, wrong.output).toBe(5);
    expect(wrong.stderr).toMatch(/access denied/);
    expect((Date.now() - started) / 1000).toBeLessThan(60);
  }, 120_000);

  test("the password changed between two runs: the second run uses the new one from the environment", async () => {
    await webdav.makeFolder("rotation");
    await expectRotationFollowed(() => access("rotation"), () => webdav.setPassword(`rotated-${crypto.randomUUID()}`));
  });
});

describe("rclone: through an rclone WebDAV remote on a real WebDAV server", () => {
  let webdav: Webdav;
  let obscuredPassword: string;
  beforeAll(async () => {
    webdav = await startWebdav();
    const obscure = Bun.spawnSync(["rclone", "obscure", "-"], { stdin: Buffer.from(webdav.password), stderr: "pipe" });
    obscuredPassword = obscure.stdout.toString().trim();
    expect(obscuredPassword.length, obscure.stderr.toString()).toBeGreaterThan(0);
  });
  /** The remote `dav`, configured wholly from rclone's own environment variables. */
  const access = (path: string, obscured = obscuredPassword): BackendAccess => ({
    repository: `rclone:dav:${path}`,
    storageArgs: ["rclone", `--remote-path=dav:${path}`],
    env: { RCLONE_CONFIG_DAV_TYPE: "webdav", RCLONE_CONFIG_DAV_URL: `http://127.0.0.1:${webdav.port}/`, RCLONE_CONFIG_DAV_VENDOR: "other", RCLONE_CONFIG_DAV_USER: webdav.user, RCLONE_CONFIG_DAV_PASS: obscured },
  });
  const stored = () => fingerprintFolder(webdav.root);

  test("round trip at --debug: restore identical, second run incremental, the password in no argv, output or log", async () => {
    await roundTrip(access("round-trip"), [webdav.password, obscuredPassword], async () => sumSizes(await stored()));
  });

  test("a wrong password in the remote's configuration: exit 5, one line, nothing written", async () => {
    const wrong = Bun.spawnSync(["rclone", "obscure", "-"], { stdin: Buffer.from("not-the-password-4711") }).stdout.toString().trim();
    await expectRefused(access("wrong-password", wrong), stored, /error +repository rclone:dav:wrong-password: access denied .*401 Unauthorized/, ["not-the-password-4711", wrong]);
  });
});

describe("gcs:// on a real fake-gcs-server (no credential check: see support/fake-gcs.ts)", () => {
  test("round trip at --debug: restore identical, second run incremental; the credentials file reaches kopia, its key in no argv, output or log", async () => {
    const gcs = await startFakeGcs();
    await gcs.createBucket("backups");
    const credentialsFile = join(await tempDir(), "service-account.json");
    const privateKey = `gcs-private-key-${crypto.randomUUID()}`;
    await writeFile(credentialsFile, JSON.stringify({ type: "service_account", client_email: "kopia@example.iam.gserviceaccount.com", private_key: privateKey }), { mode: 0o600 });
    const access: BackendAccess = {
      repository: `gcs://backups/cluster-a?credentials-file=${credentialsFile}`,
      storageArgs: ["gcs", "--bucket=backups", "--prefix=cluster-a/", `--credentials-file=${credentialsFile}`],
      env: gcs.env,
    };
    const calls = await roundTrip(access, [privateKey], async () => sumSizes(await fingerprintFolder(gcs.root)));
    expect(calls.filter((call) => call.startsWith("repository ")).every((call) => call.includes(`--credentials-file=${credentialsFile}`))).toBe(true);
  });
});
