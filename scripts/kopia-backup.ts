#!/usr/bin/env bun
/**
 * kopia-backup: snapshot one folder into a Kopia repository.
 * Connects (creating the repository only when the storage is empty), applies retention, takes
 * the snapshot, reports one result line, the summary file and metrics, and exits with a code
 * that tells success, partial, incomplete and fatal apart.
 */
import { backupMetrics, failedRunMetrics, failedSummary, reportBackup, writeSummaryFile } from "../shared/kopia/backup-report.ts";
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { connectOrCreate } from "../shared/kopia/connect.ts";
import { kopiaContext } from "../shared/kopia/context.ts";
import { backupFolder, kopiaBackupOptions } from "../shared/kopia/kopia-backup-options.ts";
import { sourceName } from "../shared/kopia/run.ts";
import { applyRetention, createSnapshot } from "../shared/kopia/snapshot-create.ts";
import { log } from "../shared/log.ts";
import { publishMetrics, type Sample } from "../shared/metrics.ts";
import { declareOptions, readOptions } from "../shared/option-table.ts";
import { retentionFrom } from "../shared/retention.ts";
import { startLogging } from "../shared/script-options.ts";
import { abortOnSignals } from "../shared/signals.ts";
import type { BackupSummary } from "../shared/snapshot.ts";

const cli = createCli("kopia-backup");
const command = cli.command("", "Snapshot one folder into a Kopia repository");
declareOptions(command, kopiaBackupOptions);

command.action(async (flags: Record<string, unknown>) => {
  startLogging(flags);
  const settings = readOptions(flags, kopiaBackupOptions);
  const path = await backupFolder(settings.path);
  const sourcePath = (settings.sourcePath ?? path).replace(/(.)\/+$/, "$1");
  const signal = abortOnSignals({ first: (received) => log.warn(`${received} received: cancelling the snapshot (kopia saves what it has as incomplete)`) });
  const kopia = kopiaContext(settings, settings, signal);
  const source = sourceName(kopia, sourcePath);
  const stopIfCancelled = () => {
    if (signal.aborted) throw new KkError("cancelled before the snapshot started; nothing was saved", ExitCode.incomplete);
  };

  log.info(`backing up ${path} as ${source} into ${kopia.repository.url}`);
  const publish = (samples: Sample[]) => publishMetrics(settings, "kopia_k8s_backup", source, samples, (message) => log.warn(message));
  const startedAt = new Date();
  let summary: BackupSummary;
  try {
    const connection = await connectOrCreate(kopia, { allowCreate: settings.create });
    if (connection !== "reused") log.info(`repository ${connection}: ${kopia.repository.url}`);
    stopIfCancelled();
    await applyRetention(kopia, source, retentionFrom(settings));
    stopIfCancelled();
    summary = await createSnapshot(kopia, { path, sourcePath, tags: settings.tags, ...(settings.description ? { description: settings.description } : {}) }, source);
  } catch (error) {
    const failure = error instanceof KkError ? error : new KkError(String(error instanceof Error ? error.message : error), ExitCode.failed);
    await writeSummaryFile(settings.summaryFile, failedSummary(source, failure, startedAt));
    await publish(failedRunMetrics(source, new Date()));
    throw failure;
  }

  reportBackup(summary);
  await writeSummaryFile(settings.summaryFile, summary);
  await publish(backupMetrics(summary));
  return summary.exitCode;
});

await runCli(cli);
