import { writeFile } from "node:fs/promises";
import { ExitCode, type ExitCodeValue } from "../exit-codes.ts";
import type { ClaimRecord } from "../claim-tags.ts";
import type { RestoredCounts } from "./restored-line.ts";

export type RestoreResult = "restored" | "restored-with-errors" | "cancelled" | "failed" | "refused" | "no-snapshot" | "dry-run";

/** What kopia-restore reports: to the log and to --summary-file (e.g. a Job's termination message). */
export interface RestoreSummary {
  result: RestoreResult;
  exitCode: ExitCodeValue;
  message: string;
  source?: string;
  snapshotId?: string;
  snapshotTime?: string;
  subpath?: string;
  target?: string;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  skipped: number;
  deleted: number;
  errors: number;
  /** Files the snapshot (or its subpath) holds: a complete restore wrote or kept each of them. */
  expectedFiles?: number;
  /** The claim the backup recorded (its tags): what operator-restore recreates a missing PVC from. */
  claim?: ClaimRecord;
  durationSeconds: number;
}

/** `--list --summary-file`: the sources, as operator-restore --all reads them from a Job's termination message. */
export interface ListSummary {
  result: "listed";
  exitCode: ExitCodeValue;
  message: string;
  /** `pvc@host:/path` of every source with a complete snapshot (host: the namespace, or namespace.<cluster name>). */
  sources: string[];
}

export interface RestoreTarget {
  source: string;
  snapshotId: string;
  snapshotTime: string;
  subpath?: string;
  target: string;
  expected?: { files: number; bytes: number };
  claim?: ClaimRecord;
}

const NO_COUNTS = { files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: 0, deleted: 0, errors: 0 };

/**
 * A finished kopia restore as a result: errors kopia ignored, or fewer files than the snapshot
 * holds, make it "restored with errors" (exit 3); a cancel is exit 4 (resume with --skip-existing).
 */
export function summarizeRestore(input: {
  what: RestoreTarget;
  counts: RestoredCounts | undefined;
  kopiaExitCode: number;
  kopiaError: string;
  cancelled: boolean;
  durationSeconds: number;
}): RestoreSummary {
  const { what, counts, kopiaExitCode, kopiaError, cancelled, durationSeconds } = input;
  const expected = what.expected;
  const base = {
    source: what.source, snapshotId: what.snapshotId, snapshotTime: what.snapshotTime,
    ...(what.subpath ? { subpath: what.subpath } : {}),
    target: what.target,
    ...(expected ? { expectedFiles: expected.files } : {}),
    durationSeconds,
  };
  if (cancelled) {
    return { ...base, ...NO_COUNTS, ...counts, result: "cancelled", exitCode: ExitCode.incomplete, message: `restore of ${what.snapshotId} cancelled: ${what.target} holds part of it; run the same command with --skip-existing to finish` };
  }
  if (kopiaExitCode !== 0 || !counts) {
    return { ...base, ...NO_COUNTS, ...counts, result: "failed", exitCode: ExitCode.failed, message: `restore of ${what.snapshotId} failed: ${kopiaError}` };
  }
  // kopia prints rounded sizes; a restore that wrote every file of the snapshot wrote its exact size.
  const complete = expected !== undefined && counts.skipped === 0 && counts.files === expected.files;
  const summary = { ...base, ...counts, ...(complete ? { bytes: expected.bytes } : {}) };
  const missing = expected === undefined ? 0 : expected.files - counts.files - counts.skipped;
  const totals = `${counts.files} files, ${counts.dirs} folders, ${counts.symlinks} symlinks${counts.skipped ? `, ${counts.skipped} kept` : ""}${counts.deleted ? `, ${counts.deleted} deleted` : ""}`;
  if (counts.errors > 0 || missing > 0) {
    const problems = [counts.errors > 0 ? `${counts.errors} errors ignored (see the warnings above)` : "", missing > 0 ? `${missing} of the snapshot's ${expected!.files} files not written` : ""].filter(Boolean).join(", ");
    return { ...summary, result: "restored-with-errors", exitCode: ExitCode.partial, message: `restored ${what.snapshotId} into ${what.target} with errors: ${totals}; ${problems}` };
  }
  return { ...summary, result: "restored", exitCode: ExitCode.ok, message: `restored ${what.snapshotId} (${what.snapshotTime}) into ${what.target}: ${totals}` };
}

/** A run that ended before or without a restore (bad selection, refusal, a repository error, a dry run). */
export function summaryWithoutRestore(result: RestoreResult, exitCode: ExitCodeValue, message: string, what: Partial<RestoreTarget>, durationSeconds: number): RestoreSummary {
  return {
    result, exitCode, message, ...NO_COUNTS,
    ...(what.source ? { source: what.source } : {}),
    ...(what.snapshotId ? { snapshotId: what.snapshotId, snapshotTime: what.snapshotTime } : {}),
    ...(what.subpath ? { subpath: what.subpath } : {}),
    ...(what.target ? { target: what.target } : {}),
    ...(what.expected ? { expectedFiles: what.expected.files } : {}),
    ...(what.claim ? { claim: what.claim } : {}),
    durationSeconds,
  };
}

export async function writeRestoreSummary(path: string | undefined, summary: RestoreSummary | ListSummary): Promise<void> {
  if (path) await writeFile(path, JSON.stringify(summary));
}
