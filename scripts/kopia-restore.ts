#!/usr/bin/env bun
/**
 * kopia-restore: list a source's snapshots, or restore one of them into a folder, a file or stdout.
 * Connects read-only (never creates a repository), picks the snapshot itself from kopia's list
 * (latest, --snapshot, --as-of, --offset; incomplete ones never), refuses a target that is not
 * empty unless told, then runs kopia with every dangerous default set explicitly.
 */
import { claimFromTags } from "../shared/claim-tags.ts";
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { connectOrCreate } from "../shared/kopia/connect.ts";
import { kopiaContext } from "../shared/kopia/context.ts";
import { kopiaOptions } from "../shared/kopia/options.ts";
import { log, writeLine } from "../shared/log.ts";
import { declareOptions, readOptions } from "../shared/option-table.ts";
import { listSnapshots, resolveEntry, runRestore, streamFile } from "../shared/restore/kopia-reads.ts";
import { snapshotRows, snapshotTable } from "../shared/restore/list-table.ts";
import { kopiaRestoreOptions, resolveRestoreSettings } from "../shared/restore/options.ts";
import { restoreArgs } from "../shared/restore/restore-args.ts";
import { selectSnapshot } from "../shared/restore/selection.ts";
import { sourceOf } from "../shared/restore/snapshots.ts";
import { describeFilter, matchesSource, sourcePaths } from "../shared/restore/source.ts";
import { summarizeRestore, summaryWithoutRestore, writeRestoreSummary, type RestoreResult, type RestoreTarget } from "../shared/restore/summary.ts";
import { inspectTarget, refusedError, targetForEntry, targetRefusal } from "../shared/restore/target.ts";
import { startLogging } from "../shared/script-options.ts";
import { abortOnSignals } from "../shared/signals.ts";
import { formatBytes } from "../shared/snapshot.ts";

/** The identity kopia-restore connects as: its own config file, never a backup's. */
const RESTORE_IDENTITY = { hostname: "kopia-k8s", username: "restore" };

const cli = createCli("kopia-restore");
const command = cli.command("", "List or restore snapshots of a Kopia repository (read-only)");
declareOptions(command, kopiaRestoreOptions);

command.action(async (flags: Record<string, unknown>) => {
  // stdout carries only what was asked for (the list, a streamed file): every log line goes to stderr.
  startLogging(flags, { stderrOnly: true });
  const settings = resolveRestoreSettings(flags);
  const signal = abortOnSignals({ first: (received) => log.warn(`${received} received: stopping kopia`) });
  const kopia = kopiaContext(readOptions(flags, kopiaOptions), RESTORE_IDENTITY, signal);

  const startedAt = performance.now();
  const seconds = () => Math.round(performance.now() - startedAt) / 1000;
  const plan: Partial<RestoreTarget> = settings.action === "restore" && settings.target ? { target: settings.target } : {};
  let summaryWritten = false;
  try {
    await connectOrCreate(kopia, { allowCreate: false, readOnly: true });
    const all = await listSnapshots(kopia);

    if (settings.action === "list") {
      const rows = snapshotRows(all.filter((snapshot) => matchesSource(snapshot, settings.filter)));
      const shown = settings.json ? rows : rows.filter((row) => !row.incomplete);
      if (settings.json) writeLine(1, JSON.stringify(shown, null, 2));
      else for (const line of snapshotTable(shown)) writeLine(1, line);
      if (rows.length === 0) log.warn(`no snapshot of ${describeFilter(settings.filter)}; try --list --all`);
      if (rows.length > shown.length) log.info(`${rows.length - shown.length} incomplete snapshots not shown (never restored; --json lists them)`);
      const sources = [...new Set(rows.filter((row) => !row.incomplete).map((row) => `${row.username}@${row.hostname}:${row.path}`))];
      await writeRestoreSummary(settings.summaryFile, { result: "listed", exitCode: ExitCode.ok, message: `${sources.length} sources`, sources });
      return ExitCode.ok;
    }

    const candidates = settings.filter ? all.filter((snapshot) => matchesSource(snapshot, settings.filter!)) : all;
    const paths = sourcePaths(candidates);
    if (settings.filter && paths.length > 1) {
      throw new KkError(`${describeFilter(settings.filter)} has snapshots of several paths (${paths.join(", ")}); choose one with --source-path`, ExitCode.usage);
    }
    const what = settings.filter ? describeFilter(settings.filter) : "the repository";
    const snapshot = selectSnapshot(candidates, settings.selection, what);
    const entry = await resolveEntry(kopia, snapshot, settings.subpath);
    Object.assign(plan, {
      source: sourceOf(snapshot), snapshotId: snapshot.id, snapshotTime: snapshot.startTime,
      ...(settings.subpath ? { subpath: settings.subpath } : {}),
      expected: { files: entry.files, bytes: entry.bytes },
      claim: claimFromTags(snapshot.tags),
    });
    log.info(`snapshot ${snapshot.id} of ${sourceOf(snapshot)}, started ${snapshot.startTime}: ${settings.subpath ?? "everything"}, ${entry.files} files, ${formatBytes(entry.bytes)}`);
    const failedAtBackup = snapshot.rootEntry.summ?.numFailed ?? 0;
    if (failedAtBackup > 0) log.warn(`snapshot ${snapshot.id} was saved without ${failedAtBackup} entries it could not read; those cannot be restored`);
    if (entry.type === "other") throw new KkError(`--subpath ${settings.subpath}: neither a file, a folder nor a symlink; kopia cannot restore it`, ExitCode.usage);
    if (settings.target === "-" && entry.type !== "file") throw new KkError(`--target -: --subpath ${settings.subpath} is a ${entry.type}, and stdout takes one file; give a --target folder`, ExitCode.usage);

    // The target is inspected last, right before kopia writes: what it found is what it decides on.
    const target = settings.target && settings.target !== "-" ? await targetForEntry(settings.target, entry.type, settings.subpath) : settings.target;
    if (target) plan.target = target;
    const state = target && target !== "-" ? await inspectTarget(target) : undefined;
    const refusal = target && state ? targetRefusal(target, state, entry.type === "directory" ? "directory" : "file", settings.write) : undefined;
    if (refusal) throw refusedError(refusal);

    if (settings.dryRun) {
      const into = target ? `into ${target === "-" ? "stdout" : `${target} (${state?.kind === "absent" ? "to be created" : state?.kind})`}` : "(no --target given)";
      const message = `dry run: would restore ${entry.files} files, ${formatBytes(entry.bytes)} of snapshot ${snapshot.id} ${into}; nothing was written`;
      log.success(message);
      await writeRestoreSummary(settings.summaryFile, summaryWithoutRestore("dry-run", ExitCode.ok, message, plan, seconds()));
      return ExitCode.ok;
    }
    if (signal.aborted) throw new KkError("cancelled before the restore started; nothing was written", ExitCode.incomplete);

    if (target === "-") {
      await streamFile(kopia, entry);
      const message = `streamed ${settings.subpath} (${formatBytes(entry.bytes)}) of snapshot ${snapshot.id} to stdout`;
      log.success(message);
      const summary = { ...summaryWithoutRestore("restored", ExitCode.ok, message, plan, seconds()), files: 1, bytes: entry.bytes };
      await writeRestoreSummary(settings.summaryFile, summary);
      return ExitCode.ok;
    }

    const args = restoreArgs(snapshot.id, settings.subpath, target!, { ...settings.write, targetHoldsLostAndFound: state?.kind === "empty" && state.lostAndFound });
    log.info(`restoring into ${target}${settings.write.overwrite ? " (overwriting what differs" + (settings.write.deleteExtra ? ", deleting what the snapshot lacks)" : ")") : settings.write.skipExisting ? " (keeping files that match)" : ""}`);
    const restored = await runRestore(kopia, args);
    const summary = summarizeRestore({
      what: plan as RestoreTarget,
      counts: restored.counts,
      kopiaExitCode: restored.exitCode,
      kopiaError: restored.error,
      cancelled: signal.aborted,
      durationSeconds: seconds(),
    });
    await writeRestoreSummary(settings.summaryFile, summary);
    summaryWritten = true;
    if (summary.result === "restored") log.success(summary.message, { ...summary });
    else if (summary.result === "restored-with-errors") log.warn(summary.message, { ...summary });
    else throw new KkError(summary.message, summary.exitCode);
    return summary.exitCode;
  } catch (error) {
    const failure = error instanceof KkError ? error : new KkError(String(error instanceof Error ? error.message : error), ExitCode.failed);
    if (settings.action === "restore" && !summaryWritten) {
      await writeRestoreSummary(settings.summaryFile, summaryWithoutRestore(resultOf(failure), failure.exitCode, failure.message, plan, seconds()));
    }
    throw failure;
  }
});

function resultOf(failure: KkError): RestoreResult {
  switch (failure.exitCode) {
    case ExitCode.noSnapshot: return "no-snapshot";
    case ExitCode.refused: return "refused";
    case ExitCode.incomplete: return "cancelled";
    default: return "failed";
  }
}

await runCli(cli);
