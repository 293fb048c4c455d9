import { ExitCode, KkError } from "../exit-codes.ts";

/** One entry of `kopia snapshot list --json`: the parts kopia-restore uses. */
export interface ListedSnapshot {
  id: string;
  source: { host: string; userName: string; path: string };
  /** RFC 3339 with up to nanoseconds, as kopia writes it. */
  startTime: string;
  endTime?: string;
  /** Set (to the reason) on a snapshot that was cut short; such a snapshot is never restored. */
  incomplete?: string;
  description?: string;
  tags?: Record<string, string>;
  rootEntry: {
    /** The root folder's object ID: what `kopia show` reads. */
    obj: string;
    summ?: { files?: number; dirs?: number; symlinks?: number; size?: number; numFailed?: number };
  };
}

/** The snapshots in kopia's JSON list; anything else is kopia misbehaving, never a silent empty list. */
export function parseSnapshotList(stdout: string): ListedSnapshot[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new KkError(`kopia snapshot list printed no JSON list: ${stdout.trim().slice(0, 200) || "(nothing)"}`, ExitCode.failed);
  }
  if (!Array.isArray(parsed)) throw new KkError("kopia snapshot list printed JSON that is not a list", ExitCode.failed);
  return parsed.filter(isListedSnapshot);
}

function isListedSnapshot(value: unknown): value is ListedSnapshot {
  const entry = value as Partial<ListedSnapshot> | null;
  return typeof entry?.id === "string" && typeof entry.startTime === "string" && typeof entry.source?.host === "string" && typeof entry.rootEntry?.obj === "string";
}

/** `user@host:/path`, Kopia's name for a source. */
export const sourceOf = (snapshot: ListedSnapshot) => `${snapshot.source.userName}@${snapshot.source.host}:${snapshot.source.path}`;
