import { ExitCode, KkError } from "../exit-codes.ts";
import { log } from "../log.ts";
import { formatBytes, type BackupSummary } from "../snapshot.ts";
import { ANNOTATION_NODE, ANNOTATION_PVC } from "./names.ts";
import type { JobOutcome } from "./job-pool.ts";

export interface ReportRow {
  namespace: string;
  pvc: string;
  node: string;
  result: string;
  files: string;
  bytes: string;
  duration: string;
  message?: string;
}

/** What a row reads of a backup's summary; a compact summary of several volumes may lack the counts. */
type RowSummary = Pick<BackupSummary, "result"> & Partial<Pick<BackupSummary, "files" | "bytes" | "durationSeconds">>;

/** A PVC's row: named by the outcome's target when it has one (a Job may read several PVCs), else by its Job's annotation. */
export function reportRow(outcome: Omit<JobOutcome<unknown, RowSummary>, "target"> & { target?: { namespace: string; pvc: string } }): ReportRow {
  const metadata = outcome.job.metadata!;
  const summary = outcome.summary;
  // A partial backup (exit 3) fails its Job, but its snapshot was saved: say so.
  const result = outcome.result === "success" ? (summary?.result ?? "success") : summary?.result === "partial" ? "partial" : outcome.result;
  return {
    namespace: outcome.target?.namespace ?? metadata.namespace!,
    pvc: outcome.target?.pvc ?? metadata.annotations?.[ANNOTATION_PVC] ?? metadata.name!,
    node: outcome.node ?? metadata.annotations?.[ANNOTATION_NODE] ?? "-",
    result,
    files: summary?.files !== undefined ? String(summary.files) : "-",
    bytes: summary?.bytes !== undefined ? formatBytes(summary.bytes) : "-",
    duration: `${summary?.durationSeconds ?? outcome.durationSeconds}s`,
    ...(outcome.message ? { message: outcome.message } : {}),
  };
}

/** A plain-text table, columns padded to their widest cell. */
export function formatTable(rows: ReportRow[]): string {
  const header: ReportRow = { namespace: "NAMESPACE", pvc: "PVC", node: "NODE", result: "RESULT", files: "FILES", bytes: "BYTES", duration: "DURATION" };
  const columns = ["namespace", "pvc", "node", "result", "files", "bytes", "duration"] as const;
  const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const line = (row: ReportRow) => columns.map((column, index) => row[column].padEnd(widths[index]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** `3 of 10 done: apps/data success on node-1`, with the reason when there is one. */
export const doneLine = (row: ReportRow, done: number, total: number) =>
  `${done} of ${total} done: ${row.namespace}/${row.pvc} ${row.result} on ${row.node}${row.message ? `: ${row.message}` : ""}`;

/** The row of a PVC whose backup never started (a problem found by discovery, or its pod's failed hook). */
export const notStartedRow = (target: { namespace: string; pvc: string; node?: string }): ReportRow => ({
  namespace: target.namespace, pvc: target.pvc, node: target.node ?? "-", result: "not-started", files: "-", bytes: "-", duration: "0s",
});

/**
 * The run's exit code: 0 when everything succeeded; partial backups alone exit 3; any failed
 * backup, post-backup hook or maintenance exits 7, the message counting each apart.
 */
export function runVerdict(rows: ReportRow[], { postHookFailures, maintenanceFailed }: { postHookFailures: number; maintenanceFailed: boolean }): number {
  const partial = rows.filter((row) => row.result === "partial").length;
  const failedBackups = rows.filter((row) => row.result !== "success" && row.result !== "partial").length;
  if (failedBackups + postHookFailures === 0 && !maintenanceFailed && partial > 0) {
    throw new KkError(`${partial} of ${rows.length} backups are partial: their snapshots were saved without the files they could not read (their Jobs are kept; kubectl logs names the files)`, ExitCode.partial);
  }
  const failures = [
    ...(failedBackups + partial > 0 ? [`${failedBackups + partial} of ${rows.length} backups failed${partial ? ` (${partial} partial)` : ""}`] : []),
    ...(postHookFailures > 0 ? [`${postHookFailures} post-backup hooks failed`] : []),
    ...(maintenanceFailed ? ["maintenance failed"] : []),
  ];
  if (failures.length > 0) throw new KkError(`${failures.join(", ")}; failed Jobs are kept for inspection`, ExitCode.jobsFailed);
  log.success(`all ${rows.length} backups succeeded`);
  return ExitCode.ok;
}
