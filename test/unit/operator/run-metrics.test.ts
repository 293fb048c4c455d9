import { describe, expect, test } from "bun:test";
import { runMetrics } from "../../../shared/operator/run-metrics.ts";
import type { ReportRow } from "../../../shared/operator/report.ts";

const row = (pvc: string, result: string): ReportRow => ({ namespace: "apps", pvc, node: "n", result, files: "-", bytes: "-", duration: "0s" });
const values = (samples: ReturnType<typeof runMetrics>) =>
  Object.fromEntries(samples.map((sample) => [sample.labels.state ? `pvcs ${sample.labels.state}` : sample.name.replace("kopia_k8s_operator_", ""), sample.value]));

describe("operator-backup run-level metrics", () => {
  test("a finished run counts its PVCs by result; last success only when it exited 0", () => {
    const rows = [row("a", "success"), row("b", "partial"), row("c", "failed"), row("d", "deadline-exceeded"), row("e", "not-started")];
    expect(values(runMetrics({ planned: 5, rows }, 7, 1_000_000, 1_012_500))).toEqual({
      last_run_timestamp_seconds: 1012.5,
      exit_code: 7,
      duration_seconds: 12.5,
      "pvcs planned": 5,
      "pvcs succeeded": 1,
      "pvcs partial": 1,
      "pvcs failed": 2,
      "pvcs not_started": 1,
    });
    expect(values(runMetrics({ planned: 1, rows: [row("a", "success")] }, 0, 0, 2000)).last_success_timestamp_seconds).toBe(2);
  });

  test("a run that failed before any Job reports every planned PVC as not started", () => {
    expect(values(runMetrics({ planned: 3 }, 5, 0, 1000))).toMatchObject({ exit_code: 5, "pvcs planned": 3, "pvcs succeeded": 0, "pvcs failed": 0, "pvcs not_started": 3 });
  });

  test("a run that failed before discovery pushes no PVC counts (unknown, not zero)", () => {
    const samples = runMetrics({}, 1, 0, 1000);
    expect(samples.map((sample) => sample.name)).toEqual(["kopia_k8s_operator_last_run_timestamp_seconds", "kopia_k8s_operator_exit_code", "kopia_k8s_operator_duration_seconds"]);
  });
});
