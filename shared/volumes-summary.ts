import { ExitCode, type ExitCodeValue } from "./exit-codes.ts";
import type { BackupResult, BackupSummary } from "./snapshot.ts";

/** The kubelet keeps at most this many bytes of a termination message. */
export const SUMMARY_FILE_LIMIT = 4096;
/** The most volumes one run takes: the tersest summary of more might not fit SUMMARY_FILE_LIMIT. */
export const MAX_VOLUMES = 50;

/** A --volumes run: the worst volume's result and exit code, and every volume's summary in the order of --volumes. */
export interface VolumesSummary {
  result: BackupResult;
  exitCode: ExitCodeValue;
  message: string;
  volumes: BackupSummary[];
}

/** What --summary-file holds: the VolumesSummary, or a terser form of it (see fitSummary); `fields` names a positional entry's values. */
export interface VolumesSummaryFile {
  result: BackupResult;
  exitCode: ExitCodeValue;
  message: string;
  fields?: readonly (keyof VolumeOutcome)[];
  volumes: (Partial<BackupSummary> | unknown[])[];
}

/** One volume's outcome as read back: what survived compaction, with `username` whenever the file named the volume. */
export type VolumeOutcome = Partial<BackupSummary> & Pick<BackupSummary, "result" | "exitCode"> & { username?: string };

export interface ParsedVolumesSummary {
  result: BackupResult;
  exitCode: number;
  message: string;
  volumes: VolumeOutcome[];
}

/** Order of exit codes, best first; a code not listed (the repository's 5, usage's 2) stopped the whole run and ranks worst. */
const EXIT_CODE_RANK: readonly number[] = [ExitCode.ok, ExitCode.partial, ExitCode.incomplete, ExitCode.failed];
const rank = (exitCode: number) => (EXIT_CODE_RANK.includes(exitCode) ? EXIT_CODE_RANK.indexOf(exitCode) : EXIT_CODE_RANK.length);

/** The volume whose exit code is worst; the first of equals. */
function worstVolume<T extends Pick<BackupSummary, "exitCode">>(volumes: readonly T[]): T {
  return volumes.reduce((worst, volume) => (rank(volume.exitCode) > rank(worst.exitCode) ? volume : worst));
}

/** The run's summary: the worst volume's result and exit code, a count by result, and the worst volume's message. */
export function summarizeVolumes(volumes: BackupSummary[]): VolumesSummary {
  const worst = worstVolume(volumes);
  const counts = (["success", "partial", "incomplete", "fatal"] as const)
    .map((result) => [result, volumes.filter((volume) => volume.result === result).length] as const)
    .filter(([, count]) => count > 0)
    .map(([result, count]) => `${count} ${result}`);
  const cause = worst.result === "success" ? "" : `; worst: ${worst.source}: ${worst.message}`;
  return { result: worst.result, exitCode: worst.exitCode, message: `${volumes.length} volumes: ${counts.join(", ")}${cause}`, volumes };
}

/**
 * The summary as it fits SUMMARY_FILE_LIMIT bytes: whole when it fits, else the first of ever
 * terser forms that does — without error samples; messages cut to 200, then 60 characters; per
 * volume only its username, result, exit code, snapshot ID, files, bytes and errors, positionally
 * as `fields` names them (the run's message cut to 100); the same without the username (the
 * position in --volumes names the volume); result, exit code and snapshot ID only. Every volume
 * stays, in order. 50 volumes keep their usernames while those average about a dozen characters.
 */
export function fitSummary(summary: VolumesSummary, limit = SUMMARY_FILE_LIMIT): VolumesSummaryFile {
  const head = (messageLength: number) => ({ result: summary.result, exitCode: summary.exitCode, message: cut(summary.message, messageLength) });
  const withoutSamples = summary.volumes.map(({ errorSamples: _, ...volume }) => volume);
  const withMessages = (length: number) => ({ ...head(length), volumes: withoutSamples.map((volume) => ({ ...volume, message: cut(volume.message, length) })) });
  const positional = (fields: readonly (keyof VolumeOutcome)[]) => ({
    ...head(100),
    fields,
    volumes: summary.volumes.map((volume) => fields.map((field) => (field === "username" ? usernameOf(volume.source) : (volume[field] ?? null)))),
  });
  const forms: (() => VolumesSummaryFile)[] = [
    () => summary,
    () => ({ ...summary, volumes: withoutSamples }),
    () => withMessages(200),
    () => withMessages(60),
    () => positional(["username", "result", "exitCode", "snapshotId", "files", "bytes", "errors"]),
    () => positional(["result", "exitCode", "snapshotId", "files", "bytes", "errors"]),
    () => positional(["result", "exitCode", "snapshotId"]),
  ];
  let form!: VolumesSummaryFile;
  for (const next of forms) {
    form = next();
    if (Buffer.byteLength(JSON.stringify(form)) <= limit) break;
  }
  return form;
}

/**
 * Reads a --volumes summary file (a Job's termination message) in any of its forms: every volume as
 * an object, with `username` also where only `source` was written. Undefined for anything else,
 * a one-volume summary included.
 */
export function parseVolumesSummary(text: string): ParsedVolumesSummary | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return readVolumesSummary(parsed);
}

/** parseVolumesSummary for a termination message already parsed as JSON. */
export function readVolumesSummary(parsed: unknown): ParsedVolumesSummary | undefined {
  if (!isOutcome(parsed) || !Array.isArray(parsed.volumes)) return undefined;
  const fields = Array.isArray(parsed.fields) ? (parsed.fields as string[]) : undefined;
  const volumes = (parsed.volumes as unknown[]).map((entry) =>
    Array.isArray(entry) && fields ? Object.fromEntries(fields.map((field, index) => [field, entry[index]]).filter(([, value]) => value !== null && value !== undefined)) : entry,
  );
  if (!volumes.every(isOutcome)) return undefined;
  return {
    result: parsed.result,
    exitCode: parsed.exitCode,
    message: typeof parsed.message === "string" ? parsed.message : "",
    volumes: volumes.map((volume) => (volume.username === undefined && typeof volume.source === "string" ? { ...volume, username: usernameOf(volume.source) } : volume)),
  };
}

const RESULTS: readonly string[] = ["success", "partial", "incomplete", "fatal"];

function isOutcome(value: unknown): value is VolumeOutcome & Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const { result, exitCode } = value as Record<string, unknown>;
  return typeof result === "string" && RESULTS.includes(result) && typeof exitCode === "number";
}

/** `user@host:/path` → user (a Kopia identity part never holds '@'). */
const usernameOf = (source: string) => source.split("@")[0]!;

const cut = (text: string, length: number) => (text.length <= length ? text : `${text.slice(0, length - 1)}…`);
