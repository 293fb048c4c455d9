import { writeFile } from "node:fs/promises";
import type { KkError } from "../exit-codes.ts";
import { log, redact } from "../log.ts";
import type { Sample } from "../metrics.ts";
import { formatBytes, type BackupSummary } from "../snapshot.ts";
import type { VolumesSummary, VolumesSummaryFile } from "../volumes-summary.ts";

export function reportBackup(summary: BackupSummary): void {
  const line = `${summary.result}: ${summary.source}: ${summary.files} files, ${summary.dirs} folders, ${formatBytes(summary.bytes)}, ${summary.errors} errors in ${summary.durationSeconds}s`;
  const fields = { ...summary };
  if (summary.result === "success") log.success(line, fields);
  else if (summary.result === "fatal") log.error(`${line}: ${summary.message}`, fields);
  else log.warn(`${line}: ${summary.message}`, fields);
  for (const sample of summary.errorSamples ?? []) log.warn(`unreadable: ${sample.path}: ${sample.error}`);
}

/** The run's line of a --volumes run, after each volume's own. */
export function reportVolumes(run: VolumesSummary): void {
  const line = `${run.result}: ${run.message}`;
  if (run.result === "success") log.success(line);
  else if (run.result === "fatal") log.error(line);
  else log.warn(line);
}

export async function writeSummaryFile(path: string | undefined, summary: BackupSummary | VolumesSummaryFile): Promise<void> {
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
