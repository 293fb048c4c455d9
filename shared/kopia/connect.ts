import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { repositoryError } from "../exit-codes.ts";
import { log } from "../log.ts";
import type { Repository } from "../repository.ts";
import { withFileLock } from "./lock.ts";
import { foreignDataError, kopiaErrorMessage, kopiaFailure, runKopia, type KopiaContext, type KopiaResult } from "./run.ts";
import { syncStorageCredentials } from "./storage-credentials.ts";

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
  const fingerprint = connectionFingerprint(kopia, { readOnly: options.readOnly ?? false });
  const connected = async () =>
    (await readFile(fingerprintFile, "utf8").catch(() => "")) === fingerprint && (await Bun.file(kopia.configFile).exists());
  // Credentials that changed since the last connect are checked by connecting again: kopia's
  // snapshot would retry a refused one (WebDAV's 401) for minutes instead of failing.
  if (await connected()) {
    if (!(await syncStorageCredentials(kopia.configFile, kopia.repository.kind))) return "reused";
    log.info(`the storage credentials in the environment changed: connecting to ${kopia.repository.url} again`);
  }
  const waiting = () => log.info(`waiting for another kopia-k8s process that is connecting to ${kopia.repository.url}`);
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

  log.info(`repository ${kopia.repository.url} is empty: creating a new Kopia repository`);
  const created = await runKopia(kopia, ["repository", "create", ...kopia.repository.storageArgs, ...identityArgs]);
  if (created.exitCode === 0) return "created";
  if (!/found existing data in storage location|already initialized/i.test(created.stderr)) throw fail(created);

  // Another machine may have created it first (the lock covers this machine only): connect to its
  // repository once its format blob is there. Without one, the data is not a repository of ours.
  for (let attempt = 1; ; attempt++) {
    const again = await connect();
    if (again.exitCode === 0) return "connected";
    if (!isUninitialized(kopia.repository, again.stderr) || kopia.signal.aborted) throw fail(again);
    if (attempt === RACE_RETRIES) throw foreignDataError(kopia.repository);
    await Bun.sleep(RACE_RETRY_MS * attempt);
  }
}

/** kopia's own soft limit for each of its caches, in MiB. */
const KOPIA_DEFAULT_CACHE_MB = 5000;

/**
 * kopia's cache limits: `--cache-size-mb` is split in half, contents and metadata, each half both
 * soft and hard limit. Without it kopia's soft limits stay and contents get a hard limit of the same
 * size: below a hard limit kopia sweeps nothing younger than 10 minutes, so a restore would keep
 * everything it read in the last 10 minutes in the cache, beside the restored data (at 100 MB/s,
 * 60 GB more on the cache's disk).
 */
function cacheSizeArgs(sizeMB: number | undefined): string[] {
  if (!sizeMB) return [`--content-cache-size-limit-mb=${KOPIA_DEFAULT_CACHE_MB}`];
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

/** Empty storage: kopia says so, or a filesystem repository's folder does not exist yet. */
function isUninitialized(repository: Repository, stderr: string): boolean {
  if (/repository not initialized/i.test(stderr)) return true;
  return repository.kind === "filesystem" && /cannot access storage path: stat .*: no such file or directory/i.test(stderr);
}

/** Changes when anything the connection depends on changes. The password is left out on purpose:
 * kopia checks it on every command, and a hash of it on disk would only help an attacker. */
function connectionFingerprint(kopia: KopiaContext, { readOnly }: { readOnly: boolean }): string {
  const identity = JSON.stringify([kopia.repository.storageArgs, kopia.hostname, kopia.username, kopia.cacheDir, cacheSizeArgs(kopia.cacheSizeMB), kopia.binary, ...(readOnly ? ["readonly"] : [])]);
  return new Bun.CryptoHasher("sha256").update(identity).digest("hex");
}

