// zx/core: the process API without zx's extra vendored helpers, which would add ~10 ms to every start.
import { $ } from "zx/core";
import { ExitCode, KkError, repositoryError, usageError } from "../exit-codes.ts";
import { log } from "../log.ts";
import type { Repository } from "../repository.ts";

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
  /** Aborted by SIGINT/SIGTERM: the running kopia is stopped, and every later failure reads as cancelled. */
  signal: AbortSignal;
}

export interface KopiaResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs kopia once. The password travels only in the child's environment, never in argv.
 * stderr lines go to `onStderrLine` as they come (kopia separates progress updates with \r).
 */
export async function runKopia(
  kopia: KopiaContext,
  args: string[],
  onStderrLine: (line: string) => void = (line) => log.debug(`kopia: ${line}`),
  options: { stdout?: "capture" | "inherit" } = {},
): Promise<KopiaResult> {
  log.debug(`running kopia ${args.join(" ")}`);
  // zx stops kopia when the signal aborts (kopia then saves what it has as incomplete). stdout
  // "inherit": kopia writes straight to ours (a restored file streamed to a pipe), never held in memory.
  const stdio: ["pipe", "pipe" | "inherit", "pipe"] = ["pipe", options.stdout === "inherit" ? "inherit" : "pipe", "pipe"];
  const child = $({ env: kopiaEnvironment(kopia), signal: kopia.signal, nothrow: true, quiet: true, verbose: false, stdio })`exec ${kopia.binary} ${args}`;
  // Lines split here, not by zx: kopia redraws its progress line with \r, which zx's lines keep.
  let pending = "";
  child.stderr.on("data", (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split(/\r\n|\r|\n/);
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) onStderrLine(stripAnsi(line));
  });
  const output = await child;
  if (pending.trim()) onStderrLine(stripAnsi(pending));
  if (output.exitCode === 127 && /exec: .*not found|No such file or directory/.test(output.stderr)) {
    throw usageError(`--kopia-path: kopia binary '${kopia.binary}' not found; install kopia or set --kopia-path (KK_KOPIA_PATH)`);
  }
  return { exitCode: output.exitCode ?? 1, stdout: output.stdout, stderr: output.stderr };
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
  if (kopia.signal.aborted) return new KkError(`${what}: cancelled by a signal`, ExitCode.incomplete);
  return recognizeRepositoryFailure(result.stderr, kopia.repository) ?? otherwise();
}

export const foreignDataError = (repository: Repository) =>
  repositoryError(`repository ${repository.url}: the location holds data that is not a Kopia repository (no kopia.repository: someone else's files, or a create elsewhere that was interrupted); point --repository at an empty location or an existing repository (nothing was changed)`);

export function sourceName(kopia: Pick<KopiaContext, "hostname" | "username">, path: string): string {
  return `${kopia.username}@${kopia.hostname}:${path}`;
}

export function assertKopiaSucceeded(kopia: KopiaContext, result: KopiaResult, what: string): void {
  if (result.exitCode !== 0) throw kopiaFailure(kopia, result, what, () => new KkError(`${what} failed: ${kopiaErrorMessage(result.stderr)}`, ExitCode.failed));
}
