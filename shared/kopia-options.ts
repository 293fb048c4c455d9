import type { Command } from "cac";
import { homedir, hostname as osHostname, userInfo } from "node:os";
import { join } from "node:path";
import { usageError } from "./exit-codes.ts";
import type { KopiaContext } from "./kopia.ts";
import { SECRET_ENV_VARS, createLogger, parseLogFormat, registerSecret, type LogFormat, type Logger } from "./log.ts";
import { validatePushgatewayUrl } from "./metrics.ts";
import { flagOrEnv, isAbsolutePath, parseBoolean, parsePositiveInteger } from "./options.ts";
import { parseRepositoryUrl, repositoryFolderName, repositoryUrlFromSeedEnv } from "./repository.ts";

/** Options every kopia script takes: where the repository is, who we are, where kopia keeps state. */
export function declareKopiaOptions(cli: Command): void {
  cli
    .option("--repository <url>", "Repository URL (env KK_REPOSITORY; or KK_BUCKET + KK_ENDPOINT for S3)")
    .option("--config-path <dir>", "Parent folder of kopia's connection configs, one folder per repository (env KK_CONFIG_PATH) [default: ~/.config/kopia-k8s]")
    .option("--cache-path <dir>", "Parent folder of kopia's caches, one folder per repository (env KK_KOPIA_CACHE_PATH) [default: ~/.cache/kopia-k8s/cache]")
    .option("--cache-size-mb <n>", "Most MiB kopia's cache of this repository may hold, half for contents, half for metadata (env KK_KOPIA_CACHE_SIZE_MB) [default: kopia's, 5000 each]")
    .option("--log-path <dir>", "Parent folder of kopia's own log files, one folder per repository (env KK_KOPIA_LOG_PATH) [default: ~/.cache/kopia-k8s/logs]")
    .option("--kopia-path <file>", "kopia binary (env KK_KOPIA_PATH) [default: kopia on PATH]")
    .option("--pushgateway-url <url>", "Push metrics to this Prometheus Pushgateway (env KK_PUSHGATEWAY_URL)")
    .option("--metrics-file <file>", "Write metrics atomically to this node_exporter textfile (env KK_METRICS_FILE)")
    .option("--log-format <format>", "text or json (env KK_LOG_FORMAT) [default: text]")
    .option("--debug", "Log debug details, kopia's own output included (env KK_DEBUG)");
}

export interface CommonSettings {
  log: Logger;
  logFormat: LogFormat;
  pushgatewayUrl?: string;
  metricsFile?: string;
}

/** The logger first, so that every later error is reported in the format the user asked for.
 * Shared by all three scripts (operator-backup hands the Pushgateway URL on to its Jobs). */
export function resolveCommonSettings(flags: Record<string, unknown>, output: { stderrOnly?: boolean } = {}): CommonSettings {
  for (const name of SECRET_ENV_VARS) registerSecret(process.env[name]);
  const format = parseLogFormat(flagOrEnv(flags.logFormat, "KK_LOG_FORMAT"));
  const debug = flags.debug === true || parseBoolean(flagOrEnv(undefined, "KK_DEBUG"), "KK_DEBUG");
  const log = createLogger({ format, debug, ...output });
  const metricsFile = flagOrEnv(flags.metricsFile, "KK_METRICS_FILE");
  if (metricsFile !== undefined && !isAbsolutePath(metricsFile)) {
    throw usageError(`--metrics-file: '${metricsFile}' must be an absolute path, e.g. /var/lib/node_exporter/kopia.prom`);
  }
  return {
    log,
    logFormat: format,
    pushgatewayUrl: validatePushgatewayUrl(flagOrEnv(flags.pushgatewayUrl, "KK_PUSHGATEWAY_URL")),
    metricsFile,
  };
}

/**
 * Resolves the repository, password, identity and kopia's folders into one context. Each
 * repository gets folders of its own below the config, cache and log paths: kopia trusts the
 * format blob it keeps in its cache, so a cache shared by two repositories would open (or create)
 * the second with the first one's keys, and a failed connect removes the whole cache folder.
 */
export function resolveKopiaContext(
  flags: Record<string, unknown>,
  identity: { hostname: string; username: string },
  log: Logger,
): KopiaContext {
  const url = flagOrEnv(flags.repository, "KK_REPOSITORY") ?? repositoryUrlFromSeedEnv(process.env);
  if (!url) {
    throw usageError("--repository: no repository given; set --repository or KK_REPOSITORY, e.g. filesystem:///srv/backups");
  }
  const repository = parseRepositoryUrl(url);
  const password = resolvePassword();
  const home = homedir();
  const cacheBase = process.env.XDG_CACHE_HOME || join(home, ".cache");
  const configBase = process.env.XDG_CONFIG_HOME || join(home, ".config");
  const configPath = absoluteFolder(flagOrEnv(flags.configPath, "KK_CONFIG_PATH") ?? join(configBase, "kopia-k8s"), "--config-path");
  const cachePath = absoluteFolder(flagOrEnv(flags.cachePath, "KK_KOPIA_CACHE_PATH") ?? join(cacheBase, "kopia-k8s", "cache"), "--cache-path");
  const logPath = absoluteFolder(flagOrEnv(flags.logPath, "KK_KOPIA_LOG_PATH") ?? join(cacheBase, "kopia-k8s", "logs"), "--log-path");
  const folder = repositoryFolderName(repository);
  const cacheSizeMB = parsePositiveInteger(flagOrEnv(flags.cacheSizeMb, "KK_KOPIA_CACHE_SIZE_MB"), "--cache-size-mb");
  return {
    binary: flagOrEnv(flags.kopiaPath, "KK_KOPIA_PATH") ?? "kopia",
    repository,
    password,
    ...identity,
    configFile: join(configPath, folder, identityFileName(identity)),
    cacheDir: join(cachePath, folder),
    ...(cacheSizeMB ? { cacheSizeMB } : {}),
    // Beside the cache folder, not in it: kopia removes the cache folder when a connect fails.
    lockFile: join(cachePath, `${folder}.lock`),
    logDir: join(logPath, folder),
    log,
  };
}

/** `user@host.config`, cut short with a hash when long: a file name may hold at most 255 bytes. */
export function identityFileName(identity: { hostname: string; username: string }): string {
  const name = `${identity.username}@${identity.hostname}`;
  const readable = name.replace(/[^\w@.-]/g, "_");
  if (readable === name && Buffer.byteLength(name) <= 100) return `${name}.config`;
  const hash = new Bun.CryptoHasher("sha256").update(name).digest("hex").slice(0, 16);
  return `${readable.slice(0, 100)}-${hash}.config`;
}

export function resolvePassword(): string {
  const kopiaPassword = process.env.KOPIA_PASSWORD || undefined;
  const seedPassword = process.env.KK_ENCRYPTION_PASSWORD || undefined;
  if (kopiaPassword && seedPassword && kopiaPassword !== seedPassword) {
    throw usageError("KOPIA_PASSWORD and KK_ENCRYPTION_PASSWORD differ; set only one of them");
  }
  const password = kopiaPassword ?? seedPassword;
  if (!password) {
    throw usageError("password: none given; set KOPIA_PASSWORD (or KK_ENCRYPTION_PASSWORD) in the environment, never on the command line");
  }
  return password;
}

function absoluteFolder(value: string, field: string): string {
  if (!isAbsolutePath(value)) throw usageError(`${field}: '${value}' must be an absolute path`);
  return value.replace(/\/+$/, "") || "/";
}

/** Identity flags: the same volume must always be the same Kopia source, whatever the pod is called. */
export function resolveIdentity(flags: Record<string, unknown>, defaults: { hostname: string; username: string }) {
  const hostname = flagOrEnv(flags.hostname, "KK_HOSTNAME") ?? defaults.hostname;
  const username = flagOrEnv(flags.username, "KK_USERNAME") ?? defaults.username;
  for (const [field, value] of [["--hostname", hostname], ["--username", username]] as const) {
    if (!/^[A-Za-z0-9][\w.-]*$/.test(value)) {
      throw usageError(`${field}: '${value}' may hold only letters, digits, '.', '_' and '-'`);
    }
  }
  return { hostname, username };
}

/**
 * This machine's name and the current user's: from the passwd entry, else $USER, else the uid
 * itself (`uid-1000`): two users without a passwd entry must never share one Kopia source.
 */
export function machineIdentity() {
  const uid = process.getuid?.() ?? 0;
  let username = process.env.USER || (uid === 0 ? "root" : `uid-${uid}`);
  try {
    const fromPasswd = userInfo().username;
    if (fromPasswd && fromPasswd !== "unknown") username = fromPasswd;
  } catch {
    // a UID without a passwd entry (common in containers)
  }
  return { hostname: osHostname(), username };
}
