#!/usr/bin/env bun
/**
 * operator-backup: back up every PVC of the cluster, once, and exit.
 * Lists running pods, PVCs and PVs (one call each), makes sure the repository exists, runs the
 * pre-backup hooks one by one (any failure aborts before a backup Job exists), runs kopia-backup
 * Jobs on the nodes that mount the PVCs (the PVCs of one namespace on one node share a Job), bounded
 * over the run and per node, runs each pod's post-backup hook as soon as its volumes are done, then
 * maintenance, prints a summary table (a row per PVC), and exits 0 only if everything succeeded.
 */
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { log } from "../shared/log.ts";
import { declareOptions } from "../shared/option-table.ts";
import { groupTargets, type BackupGroup } from "../shared/operator/backup-groups.ts";
import { connectKube } from "../shared/operator/client.ts";
import { assertRunIdUnused, describePlan, discover } from "../shared/operator/discovery.ts";
import { runHook } from "../shared/operator/hooks.ts";
import { createJobPool } from "../shared/operator/job-pool.ts";
import { defaultConcurrency } from "../shared/operator/job-slots.ts";
import { buildGroupBackupJob } from "../shared/operator/job-spec.ts";
import { backupJobName, LABEL_ROLE, LABEL_RUN_ID } from "../shared/operator/names.ts";
import { jobSettingsFrom, operatorBackupOptions, resolveOperatorSettings, type OperatorSettings } from "../shared/operator/operator-backup-options.ts";
import { withoutPodsOf, type HookPlan } from "../shared/operator/plan.ts";
import { PostHookQueue, undoPreHooks } from "../shared/operator/post-hooks.ts";
import { runPreHooks } from "../shared/operator/pre-hooks.ts";
import { doneLine, formatTable, notStartedRow, reportRow, runVerdict, type ReportRow } from "../shared/operator/report.ts";
import { maintenanceNamespaceOf, runRepositoryJob } from "../shared/operator/repository-job.ts";
import { withRunMetrics, type RunTally } from "../shared/operator/run-metrics.ts";
import { runSignals } from "../shared/operator/run-signals.ts";
import { checkServerVersion } from "../shared/operator/server-version.ts";
import { volumeOutcomes, type BackupJobSummary } from "../shared/operator/volume-outcomes.ts";
import { startLogging } from "../shared/script-options.ts";

const cli = createCli("operator-backup");
const command = cli.command("", "Back up every PVC of the cluster with kopia-backup Jobs on the nodes that mount them");
declareOptions(command, operatorBackupOptions);

command.action(async (flags: Record<string, unknown>) => {
  startLogging(flags);
  const settings = resolveOperatorSettings(flags);
  return withRunMetrics(settings, (tally) => backUpCluster(settings, tally));
});

async function backUpCluster(settings: OperatorSettings, tally: RunTally): Promise<number> {
  const kube = connectKube();
  const version = await checkServerVersion(kube);
  log.info(`run ${settings.runId}: discovering pods and volumes on ${kube.config.getCurrentCluster()?.server} (Kubernetes ${version})`);
  const plan = await discover(kube, settings);
  tally.planned = plan.targets.length;
  const concurrency = settings.concurrency ?? defaultConcurrency(plan.targets.map((target) => target.node));
  for (const line of describePlan(plan, { ...settings, concurrency })) log.info(line);
  if (settings.dryRun) return ExitCode.ok;

  const { signal, stopped } = runSignals(settings.runId);
  const runPost = (hook: HookPlan) => runHook(kube.config, hook, { phase: "post-backup", shell: settings.hookShell });
  const runPre = (hook: HookPlan) => runHook(kube.config, hook, { phase: "pre-backup", shell: settings.hookShell });
  const jobSettings = jobSettingsFrom(settings);
  const runnable = plan.targets.filter((target) => !target.problem);

  // 1. The repository is connected to, or created on empty storage, by one Job before any hook or
  // backup: backup Jobs never create it (Jobs starting together would each write one), and a wrong
  // password or unreachable storage stops the run before any app is frozen.
  if (settings.givenRunId) await assertRunIdUnused(kube, settings.runId, settings.namespaces.length ? [...settings.namespaces, maintenanceNamespaceOf(kube, settings)] : []);
  if (runnable.length > 0) {
    const outcome = await runRepositoryJob(kube, settings, jobSettings, { role: "init", firstBackup: runnable[0], signal });
    if (signal.aborted) return stopped();
    if (outcome?.result !== "success") {
      const why = outcome?.message ?? outcome?.result ?? "no outcome";
      // kopia-maintenance's own exit 5 means the repository itself cannot be used; anything else is a Job that failed.
      throw new KkError(`the repository Job failed, so no hook ran and no backup started: ${why}`, outcome?.exitCode === ExitCode.repository ? ExitCode.repository : ExitCode.jobsFailed);
    }
  }

  // 2. Pre-backup hooks, one at a time. A pod whose hook ran (say, it froze writes) gets its
  // post-backup hook whatever happens next; a pod whose hook failed with on-error "continue" is
  // thawed now and its volumes are reported not started.
  const preHooks = await runPreHooks(plan.preHooks, { runPre, runPost, postHooks: plan.postHooks, signal });
  if (signal.aborted) {
    await undoPreHooks(plan.postHooks, preHooks.started, runPost);
    return stopped();
  }
  await undoPreHooks(plan.postHooks, preHooks.failed, runPost);
  const { toBackUp, blocked } = withoutPodsOf(preHooks.failed, runnable);

  // 3. Backup Jobs, each for the PVCs of one namespace on one node (at most --volumes-per-job), at
  // most --concurrency at once and --node-concurrency on one node; each pod's post-backup hook runs
  // once all of its volumes are done.
  const jobName = (group: BackupGroup) => backupJobName(settings.jobPrefix, settings.runId, group.namespace, group.targets.map((target) => target.pvc).join(","));
  const work = groupTargets(toBackUp, settings.volumesPerJob).map((group) => ({ target: group, node: group.node, job: buildGroupBackupJob(jobName(group), group, jobSettings) }));
  const thawed = (hook: HookPlan) => preHooks.failed.some((failed) => failed.namespace === hook.namespace && failed.pod === hook.pod);
  const postHooks = new PostHookQueue(plan.postHooks.filter((hook) => !thawed(hook)), toBackUp, runPost);
  const pool = createJobPool<BackupGroup, BackupJobSummary>(kube, work, {
    concurrency,
    nodeConcurrency: settings.nodeConcurrency,
    pendingTimeoutMs: settings.pendingTimeoutMs,
    watchTimeoutSeconds: settings.watchTimeoutSeconds,
    selector: `${LABEL_RUN_ID}=${settings.runId},${LABEL_ROLE}=backup`,
    namespaced: settings.namespaces.length > 0,
    ...(settings.userSecretName ? {} : { secretData: settings.secretData }),
    signal,
  });
  postHooks.startIdle();
  const rows: ReportRow[] = [];
  try {
    for await (const outcome of pool.outcomes()) {
      for (const volume of volumeOutcomes(outcome)) {
        const row = reportRow(volume);
        rows.push(row);
        log[volume.result === "success" ? "success" : "error"](doneLine(row, rows.length, toBackUp.length));
        postHooks.targetDone(volume.target);
      }
    }
  } catch (error) {
    // Whatever stopped the pool, no hooked pod stays frozen: the hooks its Jobs' ends queued run,
    // then those of pods whose backups never reported an end.
    await postHooks.drained();
    await undoPreHooks(postHooks.notQueued(), preHooks.started, runPost);
    throw error;
  }
  const problems = [...plan.targets.filter((target) => target.problem), ...blocked];
  for (const target of problems) log.error(`${target.namespace}/${target.pvc}: ${target.problem}`);
  await postHooks.drained();

  // 4. Maintenance, then the summary and the verdict.
  const maintenance = settings.maintenance && !signal.aborted && work.length > 0
    ? await runRepositoryJob(kube, settings, jobSettings, { role: "maintenance", firstBackup: toBackUp[0], signal })
    : undefined;
  rows.push(...problems.map(notStartedRow));
  log.info(`summary of run ${settings.runId}:\n${formatTable(rows)}`, { rows });
  tally.rows = rows;
  if (signal.aborted) return stopped();
  return runVerdict(rows, { postHookFailures: postHooks.failures, maintenanceFailed: maintenance !== undefined && maintenance.result !== "success" });
}

await runCli(cli);
