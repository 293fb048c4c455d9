import { ExitCode, KkError } from "../exit-codes.ts";
import { epochNanos, type EpochNanos } from "./snapshot-time.ts";
import type { ListedSnapshot } from "./snapshots.ts";

/** Which snapshot to restore: the newest complete one, unless told otherwise. */
export interface Selection {
  /** A manifest ID or a unique prefix of one (`--snapshot`). */
  snapshotId?: string;
  /** Newest complete snapshot started at or before this instant (`--as-of`). */
  asOf?: EpochNanos;
  /** Skip this many of the remaining complete snapshots, newest first (`--offset`); 0 is the newest. */
  offset?: number;
}

const startOf = (snapshot: ListedSnapshot) => epochNanos(snapshot.startTime) ?? 0n;
const endOf = (snapshot: ListedSnapshot) => (snapshot.endTime ? epochNanos(snapshot.endTime) ?? 0n : 0n);
const compareDescending = (a: bigint | string, b: bigint | string) => (a > b ? -1 : a < b ? 1 : 0);

/** Newest first by start time; equal starts by end time, then by ID, so the order never depends on kopia's. */
export function newestFirst(snapshots: ListedSnapshot[]): ListedSnapshot[] {
  return [...snapshots].sort((a, b) => compareDescending(startOf(a), startOf(b)) || compareDescending(endOf(a), endOf(b)) || compareDescending(a.id, b.id));
}

/**
 * The one snapshot the selection names, among `snapshots` (one source's, or the whole repository's
 * for `--snapshot` alone). Incomplete snapshots are never chosen. No match is exit 8 naming the
 * nearest candidates, never a fall-back to the latest. `what` names the source in messages.
 */
export function selectSnapshot(snapshots: ListedSnapshot[], selection: Selection, what: string): ListedSnapshot {
  const complete = newestFirst(snapshots.filter((snapshot) => !snapshot.incomplete));
  if (selection.snapshotId !== undefined) return selectById(snapshots, complete, selection.snapshotId, what);

  if (complete.length === 0) {
    const incomplete = snapshots.length;
    throw noSnapshot(`no complete snapshot of ${what}${incomplete ? ` (only ${incomplete} incomplete, never restored)` : ""}; see --list --all for the sources the repository holds`);
  }
  const { asOf } = selection;
  const offset = selection.offset ?? 0;
  const eligible = asOf === undefined ? complete : complete.filter((snapshot) => startOf(snapshot) <= asOf);
  const chosen = eligible[offset];
  if (chosen) return chosen;

  const when = asOf === undefined ? "" : ` started at or before ${formatNanos(asOf)}`;
  if (eligible.length === 0) {
    const after = [...complete].reverse().slice(0, 3);
    throw noSnapshot(`no complete snapshot of ${what}${when}; the nearest after it: ${candidates(after)}`);
  }
  throw noSnapshot(`--offset ${offset}: only ${eligible.length} complete snapshot${eligible.length === 1 ? "" : "s"} of ${what}${when} (--offset 0 is the newest); the oldest: ${candidates(eligible.slice(-3).reverse())}`);
}

function selectById(snapshots: ListedSnapshot[], complete: ListedSnapshot[], prefix: string, what: string): ListedSnapshot {
  const matches = complete.filter((snapshot) => snapshot.id.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw noSnapshot(`--snapshot ${prefix}: ${matches.length} snapshots of ${what} start with it; give more of the ID: ${candidates(matches.slice(0, 3))}`);
  }
  const incomplete = snapshots.find((snapshot) => snapshot.incomplete && snapshot.id.startsWith(prefix));
  if (incomplete) {
    throw noSnapshot(`--snapshot ${prefix}: snapshot ${incomplete.id} is incomplete (${incomplete.incomplete}) and is never restored; complete ones of ${what}: ${candidates(complete.slice(0, 3))}`);
  }
  throw noSnapshot(`--snapshot ${prefix}: no snapshot of ${what} has such an ID; the newest: ${candidates(complete.slice(0, 3))}`);
}

const candidates = (snapshots: ListedSnapshot[]) => (snapshots.length ? snapshots.map((snapshot) => `${snapshot.id} (${snapshot.startTime})`).join(", ") : "none");

const noSnapshot = (message: string) => new KkError(message, ExitCode.noSnapshot);

/** An instant as RFC 3339 UTC, with the fraction only when there is one. */
export function formatNanos(nanos: EpochNanos): string {
  const millis = nanos / 1_000_000n - (nanos % 1_000_000n < 0n ? 1n : 0n);
  const fraction = ((nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const seconds = new Date(Number(millis)).toISOString().slice(0, 19);
  return fraction === 0n ? `${seconds}Z` : `${seconds}.${fraction.toString().padStart(9, "0").replace(/0+$/, "")}Z`;
}
