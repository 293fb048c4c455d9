import { ExitCode, type ExitCodeValue } from "./exit-codes.ts";

/** The parts of `kopia snapshot create --json` output that kopia-k8s uses. */
export interface KopiaSnapshotJson {
  id?: string;
  source?: { host: string; userName: string; path: string };
  startTime?: string;
  endTime?: string;
  incomplete?: string;
  rootEntry?: {
    summ?: {
      size?: number;
      files?: number;
      symlinks?: number;
      dirs?: number;
      numFailed?: number;
      numIgnoredErrors?: number;
      errors?: { path: string; error: string }[];
    };
  };
}

export type BackupResult = "success" | "partial" | "incomplete" | "fatal";

/** What kopia-backup reports: to the log, to --summary-file (the Job's termination message), to metrics. */
export interface BackupSummary {
  result: BackupResult;
  exitCode: ExitCodeValue;
  source: string;
  snapshotId?: string;
  files: number;
  dirs: number;
  bytes: number;
  errors: number;
  ignoredErrors: number;
  durationSeconds: number;
  startTime: string;
  endTime: string;
  message: string;
  /** The first few unreadable paths, so the termination message (max 4 KiB) stays small. */
  errorSamples?: { path: string; error: string }[];
}

/** The last JSON line of kopia's stdout (one per source; kopia-backup snapshots one source). */
export function parseSnapshotJson(stdout: string): KopiaSnapshotJson | undefined {
  const lines = stdout.split("\n").map((line) => line.trim()).filter((line) => line.startsWith("{"));
  for (const line of lines.reverse()) {
    try {
      return JSON.parse(line) as KopiaSnapshotJson;
    } catch {
      // not the summary; keep looking
    }
  }
  return undefined;
}

/**
 * Success needs all three: exit 0, not incomplete, no failed file. kopia exits 1 for file errors
 * but still saves the snapshot, so the JSON decides between partial and fatal.
 */
export function summarizeSnapshot(input: {
  snapshot: KopiaSnapshotJson | undefined;
  exitCode: number;
  kopiaError: string;
  source: string;
  startedAt: Date;
  endedAt: Date;
}): BackupSummary {
  const { snapshot, exitCode, kopiaError, source, startedAt, endedAt } = input;
  const summ = snapshot?.rootEntry?.summ ?? {};
  const counts = {
    files: summ.files ?? 0,
    dirs: summ.dirs ?? 0,
    bytes: summ.size ?? 0,
    errors: summ.numFailed ?? 0,
    ignoredErrors: summ.numIgnoredErrors ?? 0,
  };
  const base = {
    source,
    ...(snapshot?.id ? { snapshotId: snapshot.id } : {}),
    ...counts,
    durationSeconds: round((endedAt.getTime() - startedAt.getTime()) / 1000),
    startTime: startedAt.toISOString(),
    endTime: endedAt.toISOString(),
    ...(summ.errors?.length ? { errorSamples: summ.errors.slice(0, 5) } : {}),
  };
  const totals = `${counts.files} files, ${formatBytes(counts.bytes)}, ${counts.errors} errors`;

  if (!snapshot?.id) {
    return { ...base, result: "fatal", exitCode: ExitCode.failed, message: `no snapshot saved: ${kopiaError}` };
  }
  if (snapshot.incomplete) {
    return { ...base, result: "incomplete", exitCode: ExitCode.incomplete, message: `snapshot ${snapshot.id} is incomplete (${snapshot.incomplete}): ${totals}` };
  }
  if (counts.errors > 0) {
    return { ...base, result: "partial", exitCode: ExitCode.partial, message: `snapshot ${snapshot.id} saved without ${counts.errors} unreadable entries: ${totals}` };
  }
  if (exitCode !== 0) {
    return { ...base, result: "fatal", exitCode: ExitCode.failed, message: `snapshot ${snapshot.id} saved, but kopia failed afterwards: ${kopiaError}` };
  }
  return { ...base, result: "success", exitCode: ExitCode.ok, message: `snapshot ${snapshot.id}: ${totals}` };
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

const round = (value: number) => Math.round(value * 1000) / 1000;
