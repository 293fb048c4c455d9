import { ExitCode, KkError, type ExitCodeValue } from "../../exit-codes.ts";
import { log } from "../../log.ts";
import type { RestoreSummary } from "../../restore/summary.ts";
import { formatBytes } from "../../snapshot.ts";
import type { JobOutcome } from "../job-pool.ts";
import type { ReportRow } from "../report.ts";
import type { PvcRef } from "../operator-restore-options.ts";

/** One restore's row of the summary table: kopia-restore's result (restored, restored-with-errors, refused, …) or the Job's. */
export function restoreRow(outcome: JobOutcome<PvcRef, RestoreSummary>): ReportRow {
  const summary = outcome.summary;
  return {
    namespace: outcome.target.namespace,
    pvc: outcome.target.pvc,
    node: outcome.node ?? "-",
    result: summary && summary.result !== "dry-run" ? summary.result : outcome.result,
    files: summary ? String(summary.files) : "-",
    bytes: summary ? formatBytes(summary.bytes) : "-",
    duration: `${summary?.durationSeconds ?? outcome.durationSeconds}s`,
    ...(outcome.message ? { message: outcome.message } : {}),
    ...(summary ? { exitCode: summary.exitCode } : {}),
  };
}

/** A PVC whose restore never started (no snapshot, a refusal, bad input), with the reason. */
export const notRestoredRow = (target: PvcRef, failure: KkError): ReportRow & { exitCode: number } => ({
  namespace: target.namespace, pvc: target.pvc, node: "-", result: RESULT_OF[failure.exitCode] ?? "failed", files: "-", bytes: "-", duration: "0s", message: failure.message, exitCode: failure.exitCode,
});

const RESULT_OF: Partial<Record<number, string>> = { [ExitCode.noSnapshot]: "no-snapshot", [ExitCode.refused]: "refused", [ExitCode.usage]: "bad-input", [ExitCode.incomplete]: "cancelled", [ExitCode.repository]: "repository" };

/**
 * The exit code. One PVC: kopia-restore's own (3 with errors, 4 cancelled, 8 no snapshot, 9
 * refused), 7 for a Job that failed otherwise. Several (--all), as operator-backup: 0 when all were
 * restored, 3 when the only failures restored with errors, else 7.
 */
export function restoreVerdict(rows: (ReportRow & { exitCode?: number })[]): number {
  const restored = rows.filter((row) => row.result === "restored").length;
  if (restored === rows.length) {
    log.success(`${rows.length === 1 ? "the restore" : `all ${rows.length} restores`} succeeded`);
    return ExitCode.ok;
  }
  if (rows.length === 1) {
    const row = rows[0]!;
    const own = row.exitCode;
    const known = [ExitCode.partial, ExitCode.incomplete, ExitCode.repository, ExitCode.noSnapshot, ExitCode.refused, ExitCode.usage] as number[];
    throw new KkError(`${row.namespace}/${row.pvc}: ${row.result}${row.message ? `: ${row.message}` : ""}`, (own !== undefined && known.includes(own) ? own : ExitCode.jobsFailed) as ExitCodeValue);
  }
  const partial = rows.filter((row) => row.result === "restored-with-errors").length;
  if (restored + partial === rows.length) throw new KkError(`${partial} of ${rows.length} restores had errors (their Jobs are kept; kubectl logs names the entries)`, ExitCode.partial);
  throw new KkError(`${rows.length - restored} of ${rows.length} restores did not succeed${partial ? ` (${partial} with errors)` : ""}; failed Jobs are kept for inspection`, ExitCode.jobsFailed);
}
