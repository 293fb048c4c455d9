#!/usr/bin/env bun
/**
 * kopia-backup: snapshot one folder into a Kopia repository.
 * Connects (creating the repository only when the storage is empty), applies retention, takes
 * the snapshot, reports one result line, the summary file and metrics, and exits with a code
 * that tells success, partial, incomplete and fatal apart.
 */
import { applyRetention, backupMetrics, createSnapshot, failedRunMetrics, failedSummary, reportBackup, resolveBackupSettings, RETENTION_KEYS, writeSummaryFile } from "../shared/backup.ts";
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { cancelRunningKopia, connectOrCreate, kopiaCancelRequested, sourceName } from "../shared/kopia.ts";
import { declareKopiaOptions, machineIdentity, resolveCommonSettings, resolveIdentity, resolveKopiaContext } from "../shared/kopia-options.ts";
import { publishMetrics, type Sample } from "../shared/metrics.ts";
import { flagOrEnv, parseBoolean } from "../shared/options.ts";
import type { BackupSummary } from "../shared/snapshot.ts";

const cli = createCli("kopia-backup");
const command = cli.command("", "Snapshot one folder into a Kopia repository");
command
  .option("--path <dir>", "Folder to back up (env KK_BACKUP_PATH)")
  .option("--source-path <path>", "Path recorded in Kopia for this source (env KK_SOURCE_PATH) [default: --path]")
  .option("--hostname <name>", "Kopia identity host (env KK_HOSTNAME) [default: this machine's hostname]")
  .option("--username <name>", "Kopia identity user (env KK_USERNAME) [default: the current user]")
  .option("--tag <key:value>", "Tag the snapshot; repeatable (env KK_TAGS, comma-separated)")
  .option("--description <text>", "Snapshot description (env KK_DESCRIPTION)");
for (const unit of RETENTION_KEYS) {
  command.option(`--keep-${unit} <n>`, `Retention: keep ${unit} snapshots (env KK_KEEP_${unit.toUpperCase()})`);
}
command
  .option("--summary-file <file>", "Write the JSON summary here, e.g. /dev/termination-log (env KK_SUMMARY_FILE)")
  .option("--no-create", "Never create the repository; fail when the storage is empty (env KK_CREATE=false; operator-backup's Jobs use it)");
declareKopiaOptions(command);

command.action(async (flags: Record<string, unknown>) => {
  const common = resolveCommonSettings(flags);
  const { log } = common;
  const settings = await resolveBackupSettings(flags);
  const identity = resolveIdentity(flags, machineIdentity());
  const kopia = resolveKopiaContext(flags, identity, log);
  const source = sourceName(identity, settings.sourcePath);
  const createEnv = flagOrEnv(undefined, "KK_CREATE");
  const allowCreate = flags.create !== false && (createEnv === undefined || parseBoolean(createEnv, "KK_CREATE"));

  const cancel = (signal: NodeJS.Signals) => {
    log.warn(`${signal} received: cancelling the snapshot (kopia saves what it has as incomplete)`);
    cancelRunningKopia(signal);
  };
  process.on("SIGTERM", cancel).on("SIGINT", cancel);
  const stopIfCancelled = () => {
    if (kopiaCancelRequested()) throw new KkError("cancelled before the snapshot started; nothing was saved", ExitCode.incomplete);
  };

  log.info(`backing up ${settings.path} as ${source} into ${kopia.repository.url}`);
  const publish = (samples: Sample[]) => publishMetrics(common, "kopia_k8s_backup", source, samples, (message) => log.warn(message));
  const startedAt = new Date();
  let summary: BackupSummary;
  try {
    const connection = await connectOrCreate(kopia, { allowCreate });
    if (connection !== "reused") log.info(`repository ${connection}: ${kopia.repository.url}`);
    stopIfCancelled();
    await applyRetention(kopia, source, settings.retention);
    stopIfCancelled();
    summary = await createSnapshot(kopia, settings, source);
  } catch (error) {
    const failure = error instanceof KkError ? error : new KkError(String(error instanceof Error ? error.message : error), ExitCode.failed);
    await writeSummaryFile(settings.summaryFile, failedSummary(source, failure, startedAt));
    await publish(failedRunMetrics(source, new Date()));
    throw failure;
  }

  reportBackup(log, summary);
  await writeSummaryFile(settings.summaryFile, summary);
  await publish(backupMetrics(summary));
  return summary.exitCode;
});

await runCli(cli);
