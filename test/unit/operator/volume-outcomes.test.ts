import { describe, expect, test } from "bun:test";
import type { V1Job } from "@kubernetes/client-node";
import type { BackupGroup } from "../../../shared/operator/backup-groups.ts";
import type { JobOutcome } from "../../../shared/operator/job-pool.ts";
import type { BackupTarget } from "../../../shared/operator/plan.ts";
import { reportRow } from "../../../shared/operator/report.ts";
import { volumeOutcomes, type BackupJobSummary } from "../../../shared/operator/volume-outcomes.ts";
import type { BackupSummary } from "../../../shared/snapshot.ts";
import { fitSummary, summarizeVolumes } from "../../../shared/volumes-summary.ts";

const target = (pvc: string): BackupTarget => ({ namespace: "apps", pvc, node: "n1", tolerations: [], mountedBy: ["db"], claim: { accessModes: [] } });
const group = (...pvcs: string[]): BackupGroup => ({ namespace: "apps", node: "n1", targets: pvcs.map(target) });
const job: V1Job = { metadata: { name: "kopia-backup-run-a-b-1234", namespace: "apps", annotations: { "kopia-k8s.io/pvc": "a,b,c" } } };
const volume = (pvc: string, overrides: Partial<BackupSummary> = {}): BackupSummary => ({
  result: "success", exitCode: 0, source: `${pvc}@apps:/data`, snapshotId: `k-${pvc}`, files: 10, dirs: 2, bytes: 2048, errors: 0, ignoredErrors: 0,
  durationSeconds: 1.5, startTime: "2026-12-01T00:00:00Z", endTime: "2026-12-01T00:00:01Z", message: `snapshot k-${pvc}`, ...overrides,
});
const outcome = (targets: BackupGroup, overrides: Partial<JobOutcome<BackupGroup, BackupJobSummary>> = {}): JobOutcome<BackupGroup, BackupJobSummary> => ({
  job, target: targets, result: "success", node: "n1", durationSeconds: 9, ...overrides,
});
const rows = (outcomes: ReturnType<typeof volumeOutcomes>) => outcomes.map((entry) => reportRow(entry)).map((row) => `${row.pvc} ${row.result} ${row.files} ${row.duration}${row.message ? ` ${row.message}` : ""}`);

describe("volumeOutcomes: one row per PVC of a Job", () => {
  test("a Job of one PVC: its outcome as it is", () => {
    const single = outcome(group("a"), { summary: volume("a") });
    expect(volumeOutcomes(single)).toEqual([{ job, target: target("a"), result: "success", node: "n1", durationSeconds: 9, summary: volume("a") }]);
  });

  test("several PVCs: each its own result and counts; a failed one keeps its own message, the others succeed", () => {
    const summary = summarizeVolumes([volume("a"), volume("b", { result: "fatal", exitCode: 1, snapshotId: undefined, files: 0, message: "no snapshot saved: disk gone" }), volume("c", { result: "partial", exitCode: 3, errors: 2 })]);
    const outcomes = volumeOutcomes(outcome(group("a", "b", "c"), { result: "failed", summary, message: summary.message }));
    expect(outcomes.map((entry) => entry.target.pvc)).toEqual(["a", "b", "c"]);
    expect(rows(outcomes)).toEqual(["a success 10 1.5s", "b failed 0 1.5s no snapshot saved: disk gone", "c partial 10 1.5s snapshot k-c"]);
  });

  test("the terse positional forms: by username, and by place in --volumes when no username is left", () => {
    const summary = summarizeVolumes([volume("a"), volume("b", { result: "incomplete", exitCode: 4, message: "cancelled" })]);
    for (const limit of [420, 160]) {
      const fitted = fitSummary(summary, limit);
      expect(fitted.fields).toBeDefined();
      const outcomes = volumeOutcomes(outcome(group("a", "b"), { result: "failed", summary: fitted }));
      expect(outcomes.map((entry) => [entry.target.pvc, entry.result, entry.summary?.result])).toEqual([["a", "success", "success"], ["b", "failed", "incomplete"]]);
    }
  });

  test("no summary (the pod never ran, a cancel, a timeout): every PVC gets the Job's result and message", () => {
    const outcomes = volumeOutcomes(outcome(group("a", "b"), { result: "timed-out", message: "pod stayed Pending for 900s" }));
    expect(rows(outcomes)).toEqual(["a timed-out - 9s pod stayed Pending for 900s", "b timed-out - 9s pod stayed Pending for 900s"]);
  });

  test("a PVC the summary does not name failed, even when the Job succeeded", () => {
    const summary = summarizeVolumes([volume("a")]);
    const outcomes = volumeOutcomes(outcome(group("a", "b"), { summary }));
    expect(outcomes.map((entry) => [entry.target.pvc, entry.result, entry.message])).toEqual([["a", "success", undefined], ["b", "failed", "the Job's summary says nothing of this volume"]]);
  });
});
