import type { BackupSummary } from "../snapshot.ts";
import type { BackupGroup } from "./backup-groups.ts";
import type { JobOutcome } from "./job-pool.ts";
import type { BackupTarget } from "./plan.ts";

/** What kopia-backup --volumes writes as the Job's termination message: one summary per volume. */
export interface VolumesSummary {
  result: string;
  exitCode: number;
  message: string;
  volumes: (Partial<BackupSummary> & Pick<BackupSummary, "result" | "message"> & { username?: string })[];
}

const isVolumesSummary = (summary: unknown): summary is VolumesSummary => Array.isArray((summary as VolumesSummary | undefined)?.volumes);

/**
 * A backup Job's outcome as one outcome per PVC it read: each PVC's own summary when the Job
 * reported one for it, else the Job's result and message (a pod that never started, a cancel).
 */
export function volumeOutcomes(outcome: JobOutcome<BackupGroup, BackupSummary | VolumesSummary>): JobOutcome<BackupTarget, BackupSummary>[] {
  const { target: group, summary, ...job } = outcome;
  if (!isVolumesSummary(summary)) return group.targets.map((target) => ({ ...job, target, ...(summary ? { summary } : {}) }));
  return group.targets.map((target) => {
    const own = summary.volumes.find((volume) => volume.username === target.pvc || volume.source?.startsWith(`${target.pvc}@`));
    if (!own) return { ...job, target, message: job.message ?? "the Job reported nothing for this volume" , ...(job.result === "success" ? { result: "failed" as const } : {}) };
    const { message: _jobMessage, ...rest } = job;
    return {
      ...rest,
      target,
      summary: { files: 0, dirs: 0, bytes: 0, errors: 0, ignoredErrors: 0, exitCode: 1, source: "", durationSeconds: job.durationSeconds, startTime: "", endTime: "", ...own } as BackupSummary,
      result: own.result === "success" ? "success" : "failed",
      ...(own.result === "success" ? {} : { message: own.message }),
    };
  });
}
