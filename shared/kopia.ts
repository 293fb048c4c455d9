import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
// zx/core: the process API without zx's extra vendored helpers, which would add ~10 ms to every start.
import { $, type ProcessPromise } from "zx/core";
import { ExitCode, KkError, repositoryError, usageError } from "./exit-codes.ts";
import type { Logger } from "./log.ts";
import { withFileLock } from "./lock.ts";
import type { Repository } from "./repository.ts";
import { syncStorageCredentials } from "./storage-credentials.ts";

/** Everything needed to run kopia against one repository as one identity. */
export interface KopiaContext {
  binary: string;
  repository: Repository;
  password: string;
  hostname: string;
  username: string;
  /** kopia's connection config for this repository and identity. */
  configFile: string;
  /** This repository's own cache folder (kopia removes it when a connect fails). */
  cacheDir: string;
  /** Hard limit of that cache in MiB (half contents, half metadata); kopia's default when absent. */
  cacheSizeMB?: number;
  /** Held while connecting or creating: one process at a time per repository on this machine. */
  lockFile: string;
  logDir: string;
  log: Logger;
}

export interface KopiaResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

let running: ProcessPromise | undefined;
let cancelRequested = false;

/**
 * Runs kopia once. The password travels only in the child's environment, never in argv.
 * stderr lines go to `onStderrLine` as they come (kopia separates progress updates with \r).
 */
export async function runKopia(
  kopia: KopiaContext,
  args: string[],
  onStderrLine: (line: string) => void = (line) => kopia.log.debug(`kopia: ${line}`),
  options: { stdout?: "capture" | "inherit" } = {},
): Promise<KopiaResult> {
  kopia.log.debug(`running kopia ${args.join(" ")}`);
  const process = $({
    env: kopiaEnvironment(kopia),
    nothrow: true,
    quiet: true,
    verbose: false,
    detached: true, // own process group: a cancel reaches kopia, not only the wrapping shell
    // inherit: kopia writes straight to our stdout (a restored file streamed to a pipe), never held in memory
    stdio: ["pipe", options.stdout === "inherit" ? "inherit" : "pipe", "pipe"],
  })`exec ${kopia.binary} ${args}`;
  running = process;
  let pending = "";
  process.stderr.on("data", (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split(/\r\n|\r|\n/);
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) onStderrLine(stripAnsi(line));
  });
  const output = await process;
  if (pending.trim()) onStderrLine(stripAnsi(pending));
  running = undefined;
  if (output.exitCode === 127 && /exec: .*not found|No such file or directory/.test(output.stderr)) {
    throw usageError(`--kopia-path: kopia binary '${kopia.binary}' not found; install kopia or set --kopia-path (KK_KOPIA_PATH)`);
  }
  return { exitCode: output.exitCode ?? 1, stdout: output.stdout, stderr: output.stderr };
}

/** Forwards a cancel signal to the kopia process that is running, if any. */
/** Whether a cancel was asked for: every later kopia failure is then reported as cancelled. */
export const kopiaCancelRequested = () => cancelRequested;

export function cancelRunningKopia(signal: NodeJS.Signals = "SIGTERM"): boolean {
  cancelRequested = true;
  if (!running) return false;
  running.kill(signal).catch(() => {});
  return true;
}

function kopiaEnvironment(kopia: KopiaContext): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KOPIA_PASSWORD: kopia.password,
    KK_ENCRYPTION_PASSWORD: undefined,
    KOPIA_CONFIG_PATH: kopia.configFile,
    KOPIA_LOG_DIR: kopia.logDir,
    KOPIA_CACHE_DIRECTORY: kopia.cacheDir,
    KOPIA_CHECK_FOR_UPDATES: "false",
    KOPIA_PERSIST_CREDENTIALS_ON_CONNECT: "false",
  };
}

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");

/** The last `ERROR …` line kopia printed, without the prefix: the most specific cause it gives. */
export function kopiaErrorMessage(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  const errorLine = lines.findLast((line) => line.startsWith("ERROR ")) ?? lines.findLast((line) => /error/i.test(line));
  return (errorLine ?? lines.at(-1) ?? "kopia failed without a message").replace(/^ERROR\s+/, "");
}

/** A failure to reach or open the repository, recognised from kopia's stderr; else undefined. */
export function recognizeRepositoryFailure(stderr: string, repository: Repository): KkError | undefined {
  const cause = kopiaErrorMessage(stderr);
  const where = repository.url;
  if (/invalid repository password/i.test(stderr)) {
    return repositoryError(`repository ${where}: wrong password; set KOPIA_PASSWORD (or KK_ENCRYPTION_PASSWORD) to the repository's password`);
  }
  if (/found existing data in storage location/i.test(stderr)) return foreignDataError(repository);
  if (/NoSuchBucket|bucket does not exist|specified bucket/i.test(stderr)) {
    return repositoryError(`repository ${where}: the bucket does not exist; create it first (kopia-k8s never creates buckets)`);
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|network is unreachable|context deadline exceeded/i.test(stderr)) {
    return repositoryError(`repository ${where}: storage unreachable (${cause}); check the endpoint/host and the network`);
  }
  if (/knownhosts: key mismatch|host key mismatch/i.test(stderr)) {
    return repositoryError(`repository ${where}: the server's host key does not match known_hosts (${cause}); check that you reach the right server, then fix the known-hosts file`);
  }
  if (/access denied|forbidden|InvalidAccessKeyId|SignatureDoesNotMatch|unauthori[sz]ed|AuthorizationFailure|AuthenticationFailed|unable to authenticate|: 401\b/i.test(stderr)) {
    return repositoryError(`repository ${where}: access denied (${cause}); check the storage credentials in the environment`);
  }
  return undefined;
}

/**
 * Why a kopia command failed, as the error a user can act on: a cancel (exit 4), then a repository
 * that cannot be used (wrong password, unreachable, …: exit 5), else `otherwise`. Every command
 * can meet the repository's failures: a reused connection first meets a changed password there.
 */
export function kopiaFailure(kopia: KopiaContext, result: KopiaResult, what: string, otherwise: () => KkError): KkError {
  if (cancelRequested) return new KkError(`${what}: cancelled by a signal`, ExitCode.incomplete);
  return recognizeRepositoryFailure(result.stderr, kopia.repository) ?? otherwise();
}

export type Connection = "reused" | "connected" | "created";

export interface ConnectOptions {
  allowCreate: boolean;
  /** Connect with `--readonly` (kopia-restore): kopia then refuses every write to the repository. */
  readOnly?: boolean;
}

/**
 * Connects to the repository, creating it only when the storage holds nothing at all and
 * `allowCreate` says so. A previous connection with the same storage and identity is reused (no
 * kopia call). Connecting and creating happen under a lock per repository, so several processes
 * on one machine (cron lines, parallel runs) never create the same repository twice.
 */
export async function connectOrCreate(kopia: KopiaContext, options: ConnectOptions): Promise<Connection> {
  const fingerprintFile = `${kopia.configFile}.kopia-k8s`;
  const fingerprint = connectionFingerprint(kopia, options.readOnly);
  const connected = async () =>
    (await readFile(fingerprintFile, "utf8").catch(() => "")) === fingerprint && (await Bun.file(kopia.configFile).exists());
  // Credentials that changed since the last connect are checked by connecting again: kopia's
  // snapshot would retry a refused one (WebDAV's 401) for minutes instead of failing.
  if (await connected()) {
    if (!(await syncStorageCredentials(kopia.configFile, kopia.repository.kind))) return "reused";
    kopia.log.info(`the storage credentials in the environment changed: connecting to ${kopia.repository.url} again`);
  }
  const waiting = () => kopia.log.info(`waiting for another kopia-k8s process that is connecting to ${kopia.repository.url}`);
  return withFileLock(kopia.lockFile, async () => {
    const outcome = await connectOrCreateLocked(kopia, options);
    await syncStorageCredentials(kopia.configFile, kopia.repository.kind);
    await writeFile(fingerprintFile, fingerprint, { mode: 0o600 });
    return outcome;
  }, waiting);
}

/** How often, and how long apart, a connect is tried again after losing a create race to another machine. */
const RACE_RETRIES = 3;
const RACE_RETRY_MS = 500;

async function connectOrCreateLocked(kopia: KopiaContext, options: ConnectOptions): Promise<Exclude<Connection, "reused">> {
  await mkdir(dirname(kopia.configFile), { recursive: true });
  await mkdir(kopia.cacheDir, { recursive: true });
  await mkdir(kopia.logDir, { recursive: true });
  await assertNoForeignFiles(kopia.repository);
  // Even a read-only connect writes kopia's `.shards` file into an empty filesystem location.
  if (options.readOnly && kopia.repository.localPath && !(await Bun.file(`${kopia.repository.localPath}/kopia.repository.f`).exists())) {
    throw nothingToReadError(kopia.repository);
  }

  const identityArgs = [`--override-hostname=${kopia.hostname}`, `--override-username=${kopia.username}`, `--cache-directory=${kopia.cacheDir}`, ...cacheSizeArgs(kopia.cacheSizeMB)];
  const connect = () => runKopia(kopia, ["repository", "connect", ...kopia.repository.storageArgs, ...identityArgs, ...(options.readOnly ? ["--readonly"] : [])]);
  const fail = (result: KopiaResult) =>
    kopiaFailure(kopia, result, "connecting to the repository", () => repositoryError(`repository ${kopia.repository.url}: ${kopiaErrorMessage(result.stderr)}`));

  const first = await connect();
  if (first.exitCode === 0) return "connected";
  if (!isUninitialized(kopia.repository, first.stderr)) throw fail(first);
  if (options.readOnly) throw nothingToReadError(kopia.repository);
  if (!options.allowCreate) throw notInitializedError(kopia.repository);

  kopia.log.info(`repository ${kopia.repository.url} is empty: creating a new Kopia repository`);
  const created = await runKopia(kopia, ["repository", "create", ...kopia.repository.storageArgs, ...identityArgs]);
  if (created.exitCode === 0) return "created";
  if (!/found existing data in storage location|already initialized/i.test(created.stderr)) throw fail(created);

  // Another machine may have created it first (the lock covers this machine only): connect to its
  // repository once its format blob is there. Without one, the data is not a repository of ours.
  for (let attempt = 1; ; attempt++) {
    const again = await connect();
    if (again.exitCode === 0) return "connected";
    if (!isUninitialized(kopia.repository, again.stderr) || cancelRequested) throw fail(again);
    if (attempt === RACE_RETRIES) throw foreignDataError(kopia.repository);
    await Bun.sleep(RACE_RETRY_MS * attempt);
  }
}

/** kopia's soft and hard cache limits, half the size each for contents and metadata. */
function cacheSizeArgs(sizeMB: number | undefined): string[] {
  if (!sizeMB) return [];
  const half = Math.max(1, Math.floor(sizeMB / 2));
  return ["content", "metadata"].flatMap((kind) => [`--${kind}-cache-size-mb=${half}`, `--${kind}-cache-size-limit-mb=${half}`]);
}

const notInitializedError = (repository: Repository) =>
  repositoryError(
    `repository ${repository.url}: not initialized; run kopia-backup once to create it ` +
      `(operator-backup creates it before its Jobs; kopia-backup --no-create and kopia-maintenance without --init never create)` +
      (repository.kind === "filesystem" ? "; a filesystem repository must be the same folder on every node (e.g. NFS)" : ""),
  );

const nothingToReadError = (repository: Repository) =>
  repositoryError(`repository ${repository.url}: not initialized: there is no Kopia repository there, so nothing to read (nothing was created); check --repository (KK_REPOSITORY)`);

/**
 * kopia's own check only looks for its blob prefixes, so it would create a repository inside a
 * folder full of someone else's files, and even a connect writes a `.shards` file there. A
 * filesystem location must be empty or already hold a Kopia repository before kopia touches it.
 */
async function assertNoForeignFiles(repository: Repository): Promise<void> {
  if (!repository.localPath) return;
  const entries: string[] = await readdir(repository.localPath).catch(() => []);
  if (entries.length > 0 && !entries.includes("kopia.repository.f")) throw foreignDataError(repository);
}

const foreignDataError = (repository: Repository) =>
  repositoryError(`repository ${repository.url}: the location holds data that is not a Kopia repository (no kopia.repository: someone else's files, or a create elsewhere that was interrupted); point --repository at an empty location or an existing repository (nothing was changed)`);

/** Empty storage: kopia says so, or a filesystem repository's folder does not exist yet. */
function isUninitialized(repository: Repository, stderr: string): boolean {
  if (/repository not initialized/i.test(stderr)) return true;
  return repository.kind === "filesystem" && /cannot access storage path: stat .*: no such file or directory/i.test(stderr);
}

/** Changes when anything the connection depends on changes. The password is left out on purpose:
 * kopia checks it on every command, and a hash of it on disk would only help an attacker. */
function connectionFingerprint(kopia: KopiaContext, readOnly = false): string {
  const identity = JSON.stringify([kopia.repository.storageArgs, kopia.hostname, kopia.username, kopia.cacheDir, kopia.cacheSizeMB ?? 0, kopia.binary, ...(readOnly ? ["readonly"] : [])]);
  return new Bun.CryptoHasher("sha256").update(identity).digest("hex");
}

export function sourceName(kopia: Pick<KopiaContext, "hostname" | "username">, path: string): string {
  return `${kopia.username}@${kopia.hostname}:${path}`;
}

export function assertKopiaSucceeded(kopia: KopiaContext, result: KopiaResult, what: string): void {
  if (result.exitCode !== 0) throw kopiaFailure(kopia, result, what, () => new KkError(`${what} failed: ${kopiaErrorMessage(result.stderr)}`, ExitCode.failed));
}
