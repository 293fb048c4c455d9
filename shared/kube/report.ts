import { formatBytes } from "../snapshot.ts";
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

export function reportRow(outcome: JobOutcome): ReportRow {
  const metadata = outcome.job.metadata!;
  const summary = outcome.summary;
  // A partial backup (exit 3) fails its Job, but its snapshot was saved: say so.
  const result = outcome.result === "succeeded" ? (summary?.result ?? "success") : summary?.result === "partial" ? "partial" : outcome.result;
  return {
    namespace: metadata.namespace!,
    pvc: metadata.annotations?.[ANNOTATION_PVC] ?? metadata.name!,
    node: outcome.node ?? metadata.annotations?.[ANNOTATION_NODE] ?? "-",
    result,
    files: summary ? String(summary.files) : "-",
    bytes: summary ? formatBytes(summary.bytes) : "-",
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
