import type { BackupSummary } from "../snapshot.ts";
import { readVolumesSummary, type VolumeOutcome, type VolumesSummaryFile } from "../volumes-summary.ts";
import type { BackupGroup } from "./backup-groups.ts";
import type { JobOutcome } from "./job-pool.ts";
import type { BackupTarget } from "./plan.ts";

/** What a backup Job's termination message holds: kopia-backup's summary of one volume, or of several (--volumes). */
export type BackupJobSummary = BackupSummary | VolumesSummaryFile;

/**
 * A backup Job's outcome as one outcome per PVC it read: each PVC's own result from the Job's
 * summary (found by its username, else by its place in --volumes, which is the group's order),
 * else the Job's result and message (a pod that never started, a cancel, a summary cut short).
 */
export function volumeOutcomes(outcome: JobOutcome<BackupGroup, BackupJobSummary>): JobOutcome<BackupTarget, BackupSummary | VolumeOutcome>[] {
  const { target: group, summary, ...job } = outcome;
  const several = group.targets.length > 1 ? readVolumesSummary(summary) : undefined;
  if (!several) return group.targets.map((target) => ({ ...job, target, ...(summary && !("volumes" in summary) ? { summary } : {}) }));
  return group.targets.map((target, index) => {
    const named = several.volumes.find((volume) => volume.username === target.pvc);
    const own = named ?? (several.volumes.every((volume) => volume.username === undefined) ? several.volumes[index] : undefined);
    if (!own) return { ...job, target, result: job.result === "success" ? "failed" : job.result, message: job.message ?? "the Job's summary says nothing of this volume" };
    const { message: _jobMessage, ...rest } = job;
    const failed = own.result !== "success";
    return { ...rest, target, summary: own, result: failed ? "failed" : "success", ...(failed ? { message: own.message ?? `${own.result} (exit ${own.exitCode})` } : {}) };
  });
}
