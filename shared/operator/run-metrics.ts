import { ExitCode, KkError } from "../exit-codes.ts";
import { log } from "../log.ts";
import { pushToGateway, type Sample } from "../metrics.ts";
import type { ReportRow } from "./report.ts";

/** What a run learned by the time it ended: each field stays unset if the run failed before it. */
export interface RunTally {
  planned?: number;
  rows?: ReportRow[];
}

/**
 * Runs operator-backup's body and then pushes one run-level group, job/kopia_k8s_operator/cluster@base64/<name>,
 * whatever the body's end (exit code or error): a run that failed before any Job is alertable, and
 * a CronJob that never ran shows as an old last-run time. A dry run pushes nothing.
 */
export async function withRunMetrics(
  settings: { pushgatewayUrl?: string; clusterName?: string; dryRun: boolean },
  body: (tally: RunTally) => Promise<number>,
): Promise<number> {
  const startedAt = Date.now();
  const tally: RunTally = {};
  const publish = async (exitCode: number) => {
    if (!settings.pushgatewayUrl || settings.dryRun) return;
    const samples = runMetrics(tally, exitCode, startedAt, Date.now());
    await pushToGateway(settings.pushgatewayUrl, "kopia_k8s_operator", settings.clusterName ?? "", samples, "cluster").catch((error: Error) =>
      log.warn(`run metrics not pushed to ${settings.pushgatewayUrl}: ${error.message}`),
    );
  };
  try {
    const exitCode = await body(tally);
    await publish(exitCode);
    return exitCode;
  } catch (error) {
    await publish(error instanceof KkError ? error.exitCode : ExitCode.failed);
    throw error;
  }
}

const RESULT_STATE: Record<string, string> = { success: "succeeded", partial: "partial", "not-started": "not_started" };

export function runMetrics(tally: RunTally, exitCode: number, startedAt: number, endedAt: number): Sample[] {
  const gauge = (name: string, help: string, value: number, labels: Record<string, string> = {}): Sample => ({ name: `kopia_k8s_operator_${name}`, help, labels, value });
  const samples = [
    gauge("last_run_timestamp_seconds", "End of the last operator-backup run, successful or not.", endedAt / 1000),
    ...(exitCode === ExitCode.ok ? [gauge("last_success_timestamp_seconds", "End of the last operator-backup run that backed up every PVC.", endedAt / 1000)] : []),
    gauge("exit_code", "Exit code of the last operator-backup run (0: every PVC backed up; see README, Exit codes).", exitCode),
    gauge("duration_seconds", "Wall time of the last operator-backup run.", (endedAt - startedAt) / 1000),
  ];
  if (tally.planned === undefined) return samples; // ended before discovery: nothing known about PVCs
  const counts: Record<string, number> = { planned: tally.planned, succeeded: 0, partial: 0, failed: 0, not_started: 0 };
  for (const row of tally.rows ?? []) counts[RESULT_STATE[row.result] ?? "failed"]! += 1;
  // PVCs of a run that ended before its Jobs (or without a row for them) never started.
  counts.not_started! += tally.planned - (tally.rows?.length ?? 0);
  const help = "PVCs of the last operator-backup run, by state: planned, succeeded, partial, failed, not_started.";
  return [...samples, ...Object.entries(counts).map(([state, value]) => gauge("pvcs", help, value, { state }))];
}
