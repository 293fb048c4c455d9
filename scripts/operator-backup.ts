#!/usr/bin/env bun
/**
 * operator-backup: back up every PVC of the cluster, once, and exit.
 * Lists running pods, PVCs and PVs (one call each), runs the pre-backup hooks one by one (any
 * failure aborts before a Job exists), runs one kopia-backup Job per PVC on the node that mounts
 * it with bounded parallelism, runs post-backup hooks and maintenance, prints a summary table, and
 * exits 0 only if everything succeeded.
 */
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { connectKube } from "../shared/kube/client.ts";
import { runHook } from "../shared/kube/hooks.ts";
import { createJobPool, type JobOutcome } from "../shared/kube/job-pool.ts";
import { buildBackupJob } from "../shared/kube/job-spec.ts";
import { maintenanceNamespaceOf, repositoryJobPool } from "../shared/kube/repository-job.ts";
import { backupJobName, LABEL_ROLE, LABEL_RUN_ID } from "../shared/kube/names.ts";
import { declareOperatorOptions, jobSettingsFrom, resolveOperatorSettings, type OperatorSettings } from "../shared/kube/operator-options.ts";
import { assertRunIdUnused, describePlan, discover } from "../shared/kube/discovery.ts";
import { withoutPodsOf, type HookPlan } from "../shared/kube/plan.ts";
import { PostHookQueue, undoPreHooks } from "../shared/kube/post-hooks.ts";
import { formatTable, reportRow } from "../shared/kube/report.ts";
import { withRunMetrics, type RunTally } from "../shared/kube/run-metrics.ts";
import { checkServerVersion } from "../shared/kube/server-version.ts";

const cli = createCli("operator-backup");
const command = cli.command("", "Back up every PVC of the cluster with one kopia-backup Job each");
declareOperatorOptions(command);

command.action(async (flags: Record<string, unknown>) => {
  const settings = resolveOperatorSettings(flags);
  return withRunMetrics(settings, (tally) => backUpCluster(settings, tally));
});

async function backUpCluster(settings: OperatorSettings, tally: RunTally): Promise<number> {
  const { log } = settings;
  const kube = connectKube();
  const version = await checkServerVersion(kube);
  log.info(`run ${settings.runId}: discovering pods and volumes on ${kube.config.getCurrentCluster()?.server} (Kubernetes ${version})`);
  const plan = await discover(kube, settings);
  tally.planned = plan.targets.length;
  for (const line of describePlan(plan, settings)) log.info(line);
  if (settings.dryRun) return ExitCode.ok;

  let signal: NodeJS.Signals | undefined;
  let cancelPool = async () => {};
  const exitCodeOf = (received: NodeJS.Signals) => (received === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);
  const onSignal = (received: NodeJS.Signals) => {
    if (signal) {
      log.warn(`${received} again: exiting now; remove what this run leaves with: kubectl delete jobs,secrets -A -l ${LABEL_RUN_ID}=${settings.runId}`);
      process.exit(exitCodeOf(received));
    }
    signal = received;
    log.warn(`${received} received: starting nothing new, deleting this run's unfinished Jobs (again to exit at once)`);
    void cancelPool();
  };
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  const signalExit = () => {
    const code = exitCodeOf(signal!);
    log.warn(`run ${settings.runId} stopped by ${signal}: exit ${code}`);
    return code;
  };
  const runPostHook = (hook: HookPlan) => runHook(kube.config, hook, log, "post-backup", settings.hookShell);
  const jobSettings = jobSettingsFrom(settings);
  const runnable = plan.targets.filter((target) => !target.problem);

  // The repository is connected to, or created on empty storage, by one Job before any hook or
  // backup: backup Jobs never create it (Jobs starting together would each write one), and a wrong
  // password or unreachable storage stops the run before any app is frozen.
  if (settings.runIdGiven) await assertRunIdUnused(kube, settings.runId, settings.namespaces.length ? [...settings.namespaces, maintenanceNamespaceOf(kube, settings)] : []);
  if (runnable.length > 0) {
    const init = repositoryJobPool(kube, settings, jobSettings, "init", runnable[0]);
    cancelPool = () => init.cancel();
    const outcome = await init.run();
    if (signal) return signalExit();
    if (outcome?.result !== "succeeded") {
      const why = outcome?.message ?? outcome?.result ?? "no outcome";
      // kopia-maintenance's own exit 5 means the repository itself cannot be used; anything else is a Job that failed.
      throw new KkError(`the repository Job failed, so no hook ran and no backup started: ${why}`, outcome?.exitCode === ExitCode.repository ? ExitCode.repository : ExitCode.jobsFailed);
    }
  }

  // A pod whose pre-backup hook ran (say, it froze writes) gets its post-backup hook even when the
  // run stops before its backup: a failed hook elsewhere or a signal must not leave it frozen.
  // With on-error "continue" (the flag or the pod's annotation), a failed hook only costs its pod's
  // volumes: that pod is thawed now, and its volumes are reported not started.
  const hooked: HookPlan[] = [];
  const failedHooks: HookPlan[] = [];
  try {
    for (const hook of plan.preHooks) {
      if (signal) break;
      hooked.push(hook);
      try {
        await runHook(kube.config, hook, log, "pre-backup", settings.hookShell);
      } catch (error) {
        if (hook.onError !== "continue" || !(error instanceof KkError)) throw error;
        log.error(`${error.message}; going on without the volumes of ${hook.namespace}/${hook.pod} (on error: continue)`);
        failedHooks.push(hook);
      }
    }
  } catch (error) {
    await undoPreHooks(plan.postHooks, hooked, runPostHook, log);
    throw error;
  }
  if (signal) {
    await undoPreHooks(plan.postHooks, hooked, runPostHook, log);
    return signalExit();
  }
  await undoPreHooks(plan.postHooks, failedHooks, runPostHook, log);
  const { toBackUp, blocked } = withoutPodsOf(failedHooks, runnable);

  const jobs = toBackUp.map((target) => buildBackupJob(backupJobName(settings.jobPrefix, settings.runId, target.namespace, target.pvc), target, jobSettings));
  const thawed = (hook: HookPlan) => failedHooks.some((failed) => failed.namespace === hook.namespace && failed.pod === hook.pod);
  const postHooks = new PostHookQueue(plan.postHooks.filter((hook) => !thawed(hook)), toBackUp, runPostHook, log);

  let done = 0;
  const total = jobs.length;
  const pool = createJobPool(kube, jobs, {
    concurrency: settings.concurrency,
    pendingTimeoutMs: settings.pendingTimeoutMs,
    watchTimeoutSeconds: settings.watchTimeoutSeconds,
    selector: `${LABEL_RUN_ID}=${settings.runId},${LABEL_ROLE}=backup`,
    namespaced: settings.namespaces.length > 0,
    ...(settings.userSecretName ? {} : { secretData: settings.secretData }),
    log,
    onDone: (outcome) => {
      done++;
      const row = reportRow(outcome);
      const line = `${done} of ${total} done: ${row.namespace}/${row.pvc} ${row.result} on ${row.node}${row.message ? `: ${row.message}` : ""}`;
      if (outcome.result === "succeeded") log.success(line);
      else log.error(line);
      postHooks.targetDone(row.namespace, row.pvc);
    },
  });
  cancelPool = () => pool.cancel();
  postHooks.startIdle();
  let outcomes: JobOutcome[];
  try {
    outcomes = await pool.run();
  } catch (error) {
    // Whatever stopped the pool, no hooked pod stays frozen: the hooks its Jobs' ends queued run,
    // then those of pods whose backups never reported an end.
    await postHooks.drained();
    await undoPreHooks(postHooks.notQueued(), hooked, runPostHook, log);
    throw error;
  }
  const problems = [...plan.targets.filter((target) => target.problem), ...blocked];
  for (const target of problems) log.error(`${target.namespace}/${target.pvc}: ${target.problem}`);
  await postHooks.drained();

  let maintenanceOutcome: JobOutcome | undefined;
  if (settings.maintenance && !signal && jobs.length > 0) {
    const maintenance = repositoryJobPool(kube, settings, jobSettings, "maintenance", toBackUp[0]);
    cancelPool = () => maintenance.cancel();
    maintenanceOutcome = await maintenance.run();
  }

  const rows = outcomes.map(reportRow);
  for (const target of problems) rows.push({ namespace: target.namespace, pvc: target.pvc, node: target.node ?? "-", result: "not-started", files: "-", bytes: "-", duration: "0s" });
  log.info(`summary of run ${settings.runId}:\n${formatTable(rows)}`, { rows });
  tally.rows = rows;
  if (signal) return signalExit();

  const partial = rows.filter((row) => row.result === "partial").length;
  const failedBackups = rows.filter((row) => row.result !== "success" && row.result !== "partial").length;
  const maintenanceFailed = maintenanceOutcome !== undefined && maintenanceOutcome.result !== "succeeded";
  if (failedBackups + postHooks.failures === 0 && !maintenanceFailed && partial > 0) {
    throw new KkError(`${partial} of ${rows.length} backups are partial: their snapshots were saved without the files they could not read (their Jobs are kept; kubectl logs names the files)`, ExitCode.partial);
  }
  const failures = [
    ...(failedBackups + partial > 0 ? [`${failedBackups + partial} of ${rows.length} backups failed${partial ? ` (${partial} partial)` : ""}`] : []),
    ...(postHooks.failures > 0 ? [`${postHooks.failures} post-backup hooks failed`] : []),
    ...(maintenanceFailed ? ["maintenance failed"] : []),
  ];
  if (failures.length > 0) throw new KkError(`${failures.join(", ")}; failed Jobs are kept for inspection`, ExitCode.jobsFailed);
  log.success(`all ${rows.length} backups succeeded`);
  return ExitCode.ok;
}

await runCli(cli);
