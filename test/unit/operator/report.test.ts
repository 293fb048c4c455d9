import { describe, expect, test } from "bun:test";
import type { V1Job } from "@kubernetes/client-node";
import type { JobOutcome } from "../../../shared/operator/job-pool.ts";
import { formatTable, reportRow, type ReportRow } from "../../../shared/operator/report.ts";
import type { BackupSummary } from "../../../shared/snapshot.ts";

const job = (annotations?: Record<string, string>): V1Job => ({
  metadata: { name: "kopia-backup-abcd1234-data-0123abcd", namespace: "apps", ...(annotations ? { annotations } : {}) },
});

const summary = (overrides: Partial<BackupSummary> = {}): BackupSummary => ({
  result: "success",
  exitCode: 0,
  source: "data-db-0@apps:/data",
  snapshotId: "k1234",
  files: 1234,
  dirs: 56,
  bytes: 1536,
  errors: 0,
  ignoredErrors: 0,
  durationSeconds: 12.5,
  startTime: "2025-01-01T00:00:00Z",
  endTime: "2025-01-01T00:00:12Z",
  message: "snapshot saved",
  ...overrides,
});

describe("reportRow", () => {
  test("uses the summary's files, bytes and duration, and the annotated PVC name", () => {
    const outcome: Omit<JobOutcome, "target"> = {
      job: job({ "kopia-k8s.io/pvc": "data-db-0", "kopia-k8s.io/node": "planned-node" }),
      result: "success",
      node: "worker-2",
      summary: summary(),
      durationSeconds: 20,
    };
    expect(reportRow(outcome)).toEqual({
      namespace: "apps",
      pvc: "data-db-0",
      node: "worker-2",
      result: "success",
      files: "1234",
      bytes: "1.5 KiB",
      duration: "12.5s",
    });
  });

  test("a succeeded Job reports the summary's own result (e.g. partial)", () => {
    const row = reportRow({ job: job({ "kopia-k8s.io/pvc": "d" }), result: "success", summary: summary({ result: "partial", bytes: 10 }), durationSeconds: 1 });
    expect(row.result).toBe("partial");
    expect(row.bytes).toBe("10 B");
  });

  test("without a summary: dashes, the Job's duration, the planned node, the message", () => {
    const row = reportRow({
      job: job({ "kopia-k8s.io/pvc": "data-db-0", "kopia-k8s.io/node": "planned-node" }),
      result: "timed-out",
      message: "pod stayed Pending for 15m",
      durationSeconds: 900,
    });
    expect(row).toEqual({
      namespace: "apps",
      pvc: "data-db-0",
      node: "planned-node",
      result: "timed-out",
      files: "-",
      bytes: "-",
      duration: "900s",
      message: "pod stayed Pending for 15m",
    });
  });

  test("succeeded without a summary counts as success; no annotations fall back to the Job name and '-'", () => {
    const row = reportRow({ job: job(), result: "success", durationSeconds: 3 });
    expect(row).toEqual({ namespace: "apps", pvc: "kopia-backup-abcd1234-data-0123abcd", node: "-", result: "success", files: "-", bytes: "-", duration: "3s" });
  });

  test("a failed Job stays failed even with a summary", () => {
    const row = reportRow({ job: job({ "kopia-k8s.io/pvc": "d" }), result: "failed", summary: summary({ result: "fatal", files: 0, bytes: 0 }), durationSeconds: 4 });
    expect(row.result).toBe("failed");
    expect(row.files).toBe("0");
    expect(row.bytes).toBe("0 B");
  });
});

describe("formatTable", () => {
  const rows: ReportRow[] = [
    { namespace: "apps", pvc: "data-db-0", node: "worker-2", result: "success", files: "1234", bytes: "1.5 KiB", duration: "12.5s" },
    { namespace: "monitoring", pvc: "prometheus", node: "-", result: "failed", files: "-", bytes: "-", duration: "900s", message: "not shown" },
  ];

  test("pads every column to its widest cell, two spaces apart, no trailing spaces", () => {
    expect(formatTable(rows)).toBe(
      [
        "NAMESPACE   PVC         NODE      RESULT   FILES  BYTES    DURATION",
        "apps        data-db-0   worker-2  success  1234   1.5 KiB  12.5s",
        "monitoring  prometheus  -         failed   -      -        900s",
      ].join("\n"),
    );
  });

  test("columns start at the same offset on every line", () => {
    const lines = formatTable(rows).split("\n");
    for (const header of ["PVC", "NODE", "RESULT", "FILES", "BYTES", "DURATION"]) {
      const offset = lines[0]!.indexOf(header);
      expect(offset).toBeGreaterThan(0);
      for (const line of lines.slice(1)) expect(line[offset - 1]).toBe(" ");
      for (const line of lines.slice(1)) expect(line[offset]).not.toBe(" ");
    }
  });

  test("no rows: only the header", () => {
    expect(formatTable([])).toBe("NAMESPACE  PVC  NODE  RESULT  FILES  BYTES  DURATION");
  });
});
