#!/usr/bin/env bun
/**
 * kopia-backup: snapshot one folder into a Kopia repository, or with --volumes several folders,
 * each as its own Kopia source, over one connection.
 * Connects (creating the repository only when the storage is empty), applies retention, takes
 * the snapshot, reports one result line, the summary file and metrics, and exits with a code
 * that tells success, partial, incomplete and fatal apart (with --volumes, the worst volume's).
 */
import { backupMetrics, failedRunMetrics, failedSummary, reportBackup, reportVolumes, writeSummaryFile } from "../shared/kopia/backup-report.ts";
import { createCli, runCli } from "../shared/cli.ts";
import { asKkError, ExitCode, KkError } from "../shared/exit-codes.ts";
import { connectOrCreate } from "../shared/kopia/connect.ts";
import { kopiaContext } from "../shared/kopia/context.ts";
import { backupFolder, backupVolumes, kopiaBackupOptions } from "../shared/kopia/kopia-backup-options.ts";
import { sourceName, type KopiaContext } from "../shared/kopia/run.ts";
import { retainAndSnapshot, type SnapshotSettings } from "../shared/kopia/snapshot-create.ts";
import type { Volume } from "../shared/kopia/volumes.ts";
import { log } from "../shared/log.ts";
import { publishMetrics, type Sample } from "../shared/metrics.ts";
import { declareOptions, readOptions, type Settings } from "../shared/option-table.ts";
import { retentionFrom } from "../shared/retention.ts";
import { startLogging } from "../shared/script-options.ts";
import { abortOnSignals } from "../shared/signals.ts";
import type { BackupSummary } from "../shared/snapshot.ts";
import { fitSummary, summarizeVolumes } from "../shared/volumes-summary.ts";

type BackupSettings = Settings<typeof kopiaBackupOptions>;

const cli = createCli("kopia-backup");
const command = cli.command("", "Snapshot one folder (or the --volumes) into a Kopia repository");
declareOptions(command, kopiaBackupOptions);

command.action(async (flags: Record<string, unknown>) => {
  startLogging(flags);
  const settings = readOptions(flags, kopiaBackupOptions);
  if (settings.volumes) return backUpVolumes(settings, await backupVolumes(settings.volumes, flags));
  return backUpFolder(settings, await backupFolder(settings.path));
});

/** One folder: a failure before its snapshot ends the run with that error. */
async function backUpFolder(settings: BackupSettings, path: string): Promise<number> {
  const signal = abortOnSignals({ first: (received) => log.warn(`${received} received: cancelling the snapshot (kopia saves what it has as incomplete)`) });
  const kopia = kopiaContext(settings, settings, signal);
  const source = sourceName(kopia, recordedPath(settings.sourcePath ?? path));

  log.info(`backing up ${path} as ${source} into ${kopia.repository.url}`);
  const startedAt = new Date();
  let summary: BackupSummary;
  try {
    await connect(kopia, settings);
    summary = await retainAndSnapshot(kopia, snapshotSettings(settings, path, []), source, retentionFrom(settings));
  } catch (error) {
    const failure = asKkError(error);
    await writeSummaryFile(settings.summaryFile, failedSummary(source, failure, startedAt));
    await publish(settings, source, failedRunMetrics(source, new Date()));
    throw failure;
  }

  reportBackup(summary);
  await writeSummaryFile(settings.summaryFile, summary);
  await publish(settings, source, backupMetrics(summary));
  return summary.exitCode;
}

/**
 * Several folders over one connection, one after the other. A volume's failure is its own; a
 * repository that cannot be used, or a signal, ends the run: the volumes not started yet get a
 * fatal summary saying why (after a signal, "not started (cancelled)" with exit 4).
 */
async function backUpVolumes(settings: BackupSettings, volumes: Volume[]): Promise<number> {
  const signal = abortOnSignals({ first: (received) => log.warn(`${received} received: cancelling the running snapshot (kopia saves what it has as incomplete); the volumes after it are not started`) });
  const kopia = kopiaContext(settings, settings, signal);
  const sourceOf = (volume: Volume) => sourceName({ hostname: kopia.hostname, username: volume.username }, recordedPath(settings.sourcePath ?? volume.path));
  const cancelled = new KkError("not started (cancelled)", ExitCode.incomplete);

  log.info(`backing up ${volumes.length} volumes into ${kopia.repository.url}: ${volumes.map((volume) => `${volume.path} as ${sourceOf(volume)}`).join(", ")}`);
  let runStopped = await connect(kopia, settings).then(() => undefined, asKkError);
  const summaries: BackupSummary[] = [];
  for (const volume of volumes) {
    const source = sourceOf(volume);
    const startedAt = new Date();
    let failure = signal.aborted ? cancelled : runStopped;
    let summary: BackupSummary | undefined;
    if (!failure) {
      log.info(`backing up ${volume.path} as ${source}`);
      try {
        summary = await retainAndSnapshot(kopia, snapshotSettings(settings, volume.path, volume.tags), source, retentionFrom(settings));
      } catch (error) {
        failure = asKkError(error);
        if (failure.exitCode === ExitCode.repository) runStopped = failure;
      }
    }
    summary ??= failedSummary(source, failure!, startedAt);
    reportBackup(summary);
    await publish(settings, source, failure ? failedRunMetrics(source, new Date()) : backupMetrics(summary));
    summaries.push(summary);
  }

  const run = summarizeVolumes(summaries);
  reportVolumes(run);
  await writeSummaryFile(settings.summaryFile, fitSummary(run));
  return run.exitCode;
}

async function connect(kopia: KopiaContext, settings: BackupSettings): Promise<void> {
  const connection = await connectOrCreate(kopia, { allowCreate: settings.create });
  if (connection !== "reused") log.info(`repository ${connection}: ${kopia.repository.url}`);
}

function snapshotSettings(settings: BackupSettings, path: string, volumeTags: string[]): SnapshotSettings {
  return { path, tags: [...settings.tags, ...volumeTags], ...(settings.description ? { description: settings.description } : {}) };
}

const recordedPath = (path: string) => path.replace(/(.)\/+$/, "$1");

const publish = (settings: BackupSettings, source: string, samples: Sample[]) =>
  publishMetrics(settings, "kopia_k8s_backup", source, samples, (message) => log.warn(message));

await runCli(cli);
