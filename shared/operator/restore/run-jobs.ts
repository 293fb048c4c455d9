import { log } from "../../log.ts";
import type { RestoreSummary } from "../../restore/summary.ts";
import type { Kube } from "../client.ts";
import { createJobPool } from "../job-pool.ts";
import type { JobSettings } from "../job-spec.ts";
import { backupJobName, LABEL_ROLE, LABEL_RUN_ID } from "../names.ts";
import { doneLine, type ReportRow } from "../report.ts";
import type { OperatorRestoreSettings } from "../operator-restore-options.ts";
import { buildRestoreJob, type RestoreTarget } from "./job-spec.ts";
import { restoreRow } from "./report.ts";

/**
 * One restore Job per target, at most --concurrency at once, through operator-backup's pool (one
 * watch per namespace, per-Job Secret, stuck pods failed early, succeeded Jobs deleted, failed ones
 * kept). `onDone` hears each row as its Job ends.
 */
export async function runRestoreJobs(
  kube: Kube,
  settings: Pick<OperatorRestoreSettings, "runId" | "jobPrefix" | "concurrency" | "pendingTimeoutMs" | "watchTimeoutSeconds" | "userSecretName" | "secretData" | "writeArgs">,
  jobSettings: JobSettings,
  targets: RestoreTarget[],
  signal: AbortSignal,
  onDone: (row: ReportRow & { exitCode?: number }, target: RestoreTarget) => Promise<void> = async () => {},
): Promise<(ReportRow & { exitCode?: number })[]> {
  const work = targets.map((target) => ({ target, job: buildRestoreJob(backupJobName(settings.jobPrefix, settings.runId, target.namespace, target.pvc), target, jobSettings, settings.writeArgs) }));
  const pool = createJobPool<RestoreTarget, RestoreSummary>(kube, work, {
    concurrency: settings.concurrency,
    pendingTimeoutMs: settings.pendingTimeoutMs,
    watchTimeoutSeconds: settings.watchTimeoutSeconds,
    selector: `${LABEL_RUN_ID}=${settings.runId},${LABEL_ROLE}=restore`,
    namespaced: true,
    ...(settings.userSecretName ? {} : { secretData: settings.secretData }),
    signal,
  });
  const rows: (ReportRow & { exitCode?: number })[] = [];
  for await (const outcome of pool.outcomes()) {
    const row = restoreRow(outcome);
    rows.push(row);
    log[row.result === "restored" ? "success" : "error"](doneLine(row, rows.length, work.length));
    await onDone(row, outcome.target);
  }
  return rows;
}
