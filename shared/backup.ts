import { stat, writeFile } from "node:fs/promises";
import { KkError, repositoryError, usageError } from "./exit-codes.ts";
import { kopiaErrorMessage, kopiaFailure, recognizeRepositoryFailure, runKopia, type KopiaContext } from "./kopia.ts";
import { redact, type Logger } from "./log.ts";
import type { Sample } from "./metrics.ts";
import { flagOrEnv, isAbsolutePath, listFlagOrEnv, parseNonNegativeInteger } from "./options.ts";
import { formatBytes, parseSnapshotJson, summarizeSnapshot, type BackupSummary } from "./snapshot.ts";

export const RETENTION_KEYS = ["latest", "hourly", "daily", "weekly", "monthly", "annual"] as const;
export type Retention = Partial<Record<(typeof RETENTION_KEYS)[number], number>>;

export interface BackupSettings {
  /** The folder read from disk. */
  path: string;
  /** The folder as recorded in Kopia (defaults to `path`); keeps the source stable across mounts. */
  sourcePath: string;
  tags: string[];
  description?: string;
  retention: Retention;
  summaryFile?: string;
}

export async function resolveBackupSettings(flags: Record<string, unknown>): Promise<BackupSettings> {
  const path = flagOrEnv(flags.path, "KK_BACKUP_PATH");
  if (!path) throw usageError("--path: no folder to back up; set --path or KK_BACKUP_PATH, e.g. --path /data");
  if (!isAbsolutePath(path)) throw usageError(`--path: '${path}' must be an absolute path, e.g. /data`);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw usageError(`--path: '${path}' does not exist; mount or create it, or fix the path`);
  if (!info.isDirectory()) throw usageError(`--path: '${path}' is not a folder; give the folder that holds the data`);

  const sourcePath = flagOrEnv(flags.sourcePath, "KK_SOURCE_PATH") ?? path;
  if (!isAbsolutePath(sourcePath)) throw usageError(`--source-path: '${sourcePath}' must be an absolute path`);

  const tags = resolveTags(flags);
  const retention = resolveRetention(flags);
  const summaryFile = flagOrEnv(flags.summaryFile, "KK_SUMMARY_FILE");
  if (summaryFile !== undefined && !isAbsolutePath(summaryFile)) {
    throw usageError(`--summary-file: '${summaryFile}' must be an absolute path, e.g. /dev/termination-log`);
  }
  const description = flagOrEnv(flags.description, "KK_DESCRIPTION");
  return { path, sourcePath: sourcePath.replace(/(.)\/+$/, "$1"), tags, retention, summaryFile, ...(description ? { description } : {}) };
}

/** `--tag key:value` (repeatable) or KK_TAGS, validated. */
export function resolveTags(flags: Record<string, unknown>): string[] {
  const tags = listFlagOrEnv(flags.tag, "KK_TAGS");
  for (const tag of tags) {
    if (!/^[^:\s]+:\S+$/.test(tag)) throw usageError(`--tag: '${tag}' must be key:value, e.g. --tag app:nextcloud`);
  }
  return tags;
}

/** `--keep-<unit> N` or KK_KEEP_<UNIT>: only the rules given. */
export function resolveRetention(flags: Record<string, unknown>): Retention {
  const retention: Retention = {};
  for (const key of RETENTION_KEYS) {
    const field = `--keep-${key}`;
    const value = parseNonNegativeInteger(flagOrEnv(flags[`keep${key[0]!.toUpperCase()}${key.slice(1)}`], `KK_KEEP_${key.toUpperCase()}`), field);
    if (value !== undefined) retention[key] = value;
  }
  return retention;
}

/** The same rules and tags as kopia-backup flags, for handing on (e.g. to a backup Job). */
export function backupFlags(tags: string[], retention: Retention): string[] {
  return [...tags.map((tag) => `--tag=${tag}`), ...Object.entries(retention).map(([key, value]) => `--keep-${key}=${value}`)];
}

/** Sets Kopia's retention policy for this source (only the rules the user gave). */
export async function applyRetention(kopia: KopiaContext, source: string, retention: Retention): Promise<void> {
  const args = Object.entries(retention).map(([key, value]) => `--keep-${key}=${value}`);
  if (args.length === 0) return;
  const result = await runKopia(kopia, ["policy", "set", source, ...args]);
  if (result.exitCode !== 0) {
    // The values were checked before: a refused policy is the repository's trouble (say, storage that refuses writes).
    throw kopiaFailure(kopia, result, "setting retention", () => repositoryError(`repository ${kopia.repository.url}: setting the retention policy failed: ${kopiaErrorMessage(result.stderr)}`));
  }
  kopia.log.info(`retention for ${source}: ${args.join(" ")}`);
}

/** Runs `kopia snapshot create` and turns its JSON and exit code into a summary. */
export async function createSnapshot(kopia: KopiaContext, settings: BackupSettings, source: string): Promise<BackupSummary> {
  const args = [
    "snapshot", "create", settings.path, "--json", "--progress", "--no-auto-maintenance",
    ...(settings.sourcePath !== settings.path ? [`--override-source=${source}`] : []),
    ...settings.tags.map((tag) => `--tags=${tag}`),
    ...(settings.description ? [`--description=${settings.description}`] : []),
  ];
  const startedAt = new Date();
  const result = await runKopia(kopia, args, tidyKopiaOutput(kopia.log));
  let snapshot = parseSnapshotJson(result.stdout);
  // kopia prints the snapshot's JSON before its last writes; when it then fails (storage that
  // refuses writes), the snapshot may not exist. Never report one the repository does not list.
  if (snapshot?.id && result.exitCode !== 0 && !(await snapshotListed(kopia, source, snapshot.id))) {
    kopia.log.warn(`kopia printed snapshot ${snapshot.id}, but the repository does not list it: it was not saved`);
    snapshot = undefined;
  }
  // A reused connection meets a changed password or a lost endpoint only here.
  const repositoryFailure = snapshot ? undefined : recognizeRepositoryFailure(result.stderr, kopia.repository);
  if (repositoryFailure) throw repositoryFailure;
  return summarizeSnapshot({
    snapshot,
    exitCode: result.exitCode,
    kopiaError: kopiaErrorMessage(result.stderr),
    source,
    startedAt,
    endedAt: new Date(),
  });
}

/** Whether the repository lists the snapshot; false too when it cannot be asked. */
async function snapshotListed(kopia: KopiaContext, source: string, id: string): Promise<boolean> {
  const listed = await runKopia(kopia, ["snapshot", "list", "--json", "--incomplete", source]);
  if (listed.exitCode !== 0) return false;
  try {
    return (JSON.parse(listed.stdout) as { id?: string }[]).some((entry) => entry.id === id);
  } catch {
    return false;
  }
}

const PROGRESS_EVERY_MS = 10_000;

/** kopia redraws a progress line several times a second: log one every 10 s, the rest by kind. */
function tidyKopiaOutput(log: Logger): (line: string) => void {
  let lastProgressAt = Date.now();
  return (line) => {
    const text = line.trim();
    const progress = /^[|/\\*-]?\s*(\d+ hashing, .*)$/.exec(text);
    if (progress) {
      if (Date.now() - lastProgressAt >= PROGRESS_EVERY_MS) {
        lastProgressAt = Date.now();
        log.info(`progress: ${progress[1]}`);
      }
      return;
    }
    if (/^(ERROR|!)|error/i.test(text)) log.warn(`kopia: ${text.replace(/^ERROR\s+/, "")}`);
    else log.debug(`kopia: ${text}`);
  };
}

export function reportBackup(log: Logger, summary: BackupSummary): void {
  const line = `${summary.result}: ${summary.source}: ${summary.files} files, ${summary.dirs} folders, ${formatBytes(summary.bytes)}, ${summary.errors} errors in ${summary.durationSeconds}s`;
  const fields = { ...summary };
  if (summary.result === "success") log.success(line, fields);
  else if (summary.result === "fatal") log.error(`${line}: ${summary.message}`, fields);
  else log.warn(`${line}: ${summary.message}`, fields);
  for (const sample of summary.errorSamples ?? []) log.warn(`unreadable: ${sample.path}: ${sample.error}`);
}

export async function writeSummaryFile(path: string | undefined, summary: BackupSummary): Promise<void> {
  if (path) await writeFile(path, JSON.stringify(summary));
}

const backupGauge = (source: string, name: string, help: string, value: number): Sample => ({ name: `kopia_k8s_backup_${name}`, help, labels: { source }, value });
const lastRun = (source: string, at: number) => backupGauge(source, "last_run_timestamp_seconds", "End of the last backup run, successful or not.", at);
const succeeded = (source: string, ok: boolean) => backupGauge(source, "success", "1 if the last backup run succeeded completely, else 0.", ok ? 1 : 0);

export function backupMetrics(summary: BackupSummary): Sample[] {
  const endedAt = Date.parse(summary.endTime) / 1000;
  const gauge = (name: string, help: string, value: number) => backupGauge(summary.source, name, help, value);
  return [
    lastRun(summary.source, endedAt),
    ...(summary.result === "success" ? [gauge("last_success_timestamp_seconds", "End of the last fully successful backup.", endedAt)] : []),
    succeeded(summary.source, summary.result === "success"),
    gauge("duration_seconds", "Wall time of the last snapshot.", summary.durationSeconds),
    gauge("size_bytes", "Bytes in the last snapshot.", summary.bytes),
    gauge("files", "Files in the last snapshot.", summary.files),
    gauge("errors", "Entries that could not be read in the last snapshot.", summary.errors),
  ];
}

/** The summary of a run that ended with an error before kopia produced a snapshot. */
export function failedSummary(source: string, error: KkError, startedAt: Date, endedAt = new Date()): BackupSummary {
  return {
    result: "fatal", exitCode: error.exitCode, source, files: 0, dirs: 0, bytes: 0, errors: 0, ignoredErrors: 0,
    durationSeconds: (endedAt.getTime() - startedAt.getTime()) / 1000, startTime: startedAt.toISOString(), endTime: endedAt.toISOString(),
    message: redact(error.message),
  };
}

/**
 * A run that failed before kopia produced a snapshot: "it ran, and it failed", and errors 0, so that
 * a partial run before it (errors > 0) does not make this failure look partial to the alert rules.
 */
export function failedRunMetrics(source: string, endedAt: Date): Sample[] {
  return [lastRun(source, endedAt.getTime() / 1000), succeeded(source, false), backupGauge(source, "errors", "Entries that could not be read in the last snapshot.", 0)];
}
