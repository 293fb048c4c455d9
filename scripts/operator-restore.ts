#!/usr/bin/env bun
/**
 * operator-restore: restore one PVC (in place, or into a new PVC, namespace or cluster), or every
 * PVC the repository knows (--all, disaster recovery), with one kopia-restore Job each.
 * A short Job pins the snapshot first (the workstation needs no kopia); the cluster is read and the
 * plan printed (--dry-run stops there); pods that mount the PVC refuse the restore unless
 * --scale-down or --allow-running; missing namespaces and PVCs are created (from the original PVC,
 * the claim the backup recorded, or the flags); the restore Jobs run with bounded parallelism;
 * scaled-down apps come back only after success; a summary table, and the exit code.
 */
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { log } from "../shared/log.ts";
import { declareOptions } from "../shared/option-table.ts";
import { connectKube } from "../shared/operator/client.ts";
import { jobSettingsFrom } from "../shared/operator/job-run-options.ts";
import { formatTable, type ReportRow } from "../shared/operator/report.ts";
import { operatorRestoreOptions, resolveOperatorRestoreSettings } from "../shared/operator/operator-restore-options.ts";
import { describeTargetPlan } from "../shared/operator/restore/plan.ts";
import { planRestore, prepareTarget, type PlannedRestore } from "../shared/operator/restore/prepare.ts";
import { notRestoredRow, restoreVerdict } from "../shared/operator/restore/report.ts";
import { listSources, pinSnapshots } from "../shared/operator/restore/resolve.ts";
import { runRestoreJobs } from "../shared/operator/restore/run-jobs.ts";
import { pvcsOfSources } from "../shared/operator/restore/sources.ts";
import { scaleBack, scaleBackCommand } from "../shared/operator/restore/workloads.ts";
import { workloadName } from "../shared/operator/restore/mounting-pods.ts";
import { runSignals } from "../shared/operator/run-signals.ts";
import { checkServerVersion } from "../shared/operator/server-version.ts";
import { startLogging } from "../shared/script-options.ts";

const cli = createCli("operator-restore");
const command = cli.command("", "Restore a PVC (or, with --all, every PVC the repository knows) with one kopia-restore Job each");
declareOptions(command, operatorRestoreOptions);

command.action(async (flags: Record<string, unknown>) => {
  startLogging(flags);
  const settings = resolveOperatorRestoreSettings(flags);
  const kube = connectKube();
  const version = await checkServerVersion(kube);
  log.info(`run ${settings.runId}: restoring on ${kube.config.getCurrentCluster()?.server} (Kubernetes ${version})`);
  const { signal, stopped } = runSignals(settings.runId);
  const jobSettings = jobSettingsFrom(settings);
  const single = !settings.all;
  /** Rows of PVCs that never got a restore Job; one PVC alone ends the run with its own error instead. */
  const notRestored: ReportRow[] = [];
  const setAside = (target: { namespace: string; pvc: string }, error: unknown) => {
    if (single || !(error instanceof KkError)) throw error;
    log.error(`${target.namespace}/${target.pvc}: ${error.message}`);
    notRestored.push(notRestoredRow(target, error));
  };

  // 1. Which snapshot: one short Job per PVC (no volume, no token) picks it and pins its ID.
  const sources = settings.source
    ? [settings.source]
    : pvcsOfSources(await listSources(kube, settings, jobSettings, signal), { namespaces: settings.namespaces, ...(settings.clusterName ? { clusterName: settings.clusterName } : {}) });
  if (signal.aborted) return stopped();
  if (sources.length === 0) throw new KkError(`the repository holds no operator-backup snapshot${settings.namespaces.length ? ` of namespaces ${settings.namespaces.join(", ")}` : ""}`, ExitCode.noSnapshot);
  const pinned = await pinSnapshots(kube, settings, jobSettings, sources, signal);
  if (signal.aborted) return stopped();

  // 2. The plan, from the cluster as it is: nothing changes before it is printed.
  const planned: PlannedRestore[] = [];
  for (const { source, summary, failure } of pinned) {
    const target = settings.target ?? source;
    if (failure) setAside(target, failure);
    else await planRestore(kube, settings, source, target, summary!).then((plan) => planned.push(plan), (error) => setAside(target, error));
  }
  const verb = settings.dryRun ? "would" : "will";
  for (const { plan, pinned: snapshot } of planned) for (const line of describeTargetPlan(plan, snapshot, verb)) log.info(line);
  if (settings.dryRun) {
    log.success(`dry run: ${planned.length} restores planned${notRestored.length ? `, ${notRestored.length} cannot be` : ""}; nothing was changed`);
    return ExitCode.ok;
  }

  // 3. Namespaces, workloads scaled to 0 (their pods gone), new PVCs: then the Jobs, at most --concurrency at once.
  const ready: PlannedRestore[] = [];
  for (const restore of planned) {
    if (signal.aborted) break;
    await prepareTarget(kube, restore, settings.pendingTimeoutMs, signal).then(() => ready.push(restore), (error) => setAside(restore.plan.target, error));
  }
  const stoppedFor = (target: { namespace: string; pvc: string }) => ready.find((restore) => restore.plan.target.namespace === target.namespace && restore.plan.target.pvc === target.pvc)?.workloads ?? [];
  const rows = await runRestoreJobs(kube, settings, jobSettings, ready.map((restore) => restore.plan.restore), signal, async (row, target) => {
    const workloads = stoppedFor(target);
    if (!workloads.length) return;
    // Only a complete restore brings the app back: on partial data it would start and write on top.
    if (row.result === "restored") await scaleBack(kube, target.namespace, workloads);
    else log.warn(`${workloads.map(workloadName).join(", ")} in ${target.namespace} stay at 0 replicas because the restore did not succeed; once the data is right: ${scaleBackCommand(target.namespace, workloads)}`);
  });

  // 4. The summary and the verdict.
  const allRows = [...rows, ...notRestored];
  log.info(`summary of run ${settings.runId}:\n${formatTable(allRows)}`, { rows: allRows });
  if (signal.aborted) return stopped();
  return restoreVerdict(allRows);
});

await runCli(cli);
