import { formatBytes } from "../snapshot.ts";
import { formatNanos, newestFirst } from "./selection.ts";
import { epochNanos } from "./snapshot-time.ts";
import type { ListedSnapshot } from "./snapshots.ts";
import { namespaceAndPvc } from "./source.ts";

/** One snapshot as `--list --json` prints it. */
export interface SnapshotRow {
  namespace: string;
  pvc: string;
  hostname: string;
  username: string;
  path: string;
  id: string;
  startTime: string;
  endTime?: string;
  files: number;
  dirs: number;
  bytes: number;
  errors: number;
  incomplete?: string;
}

/** Grouped by namespace, PVC and path, each source's snapshots newest first. */
export function snapshotRows(snapshots: ListedSnapshot[]): SnapshotRow[] {
  const rows = newestFirst(snapshots).map((snapshot): SnapshotRow => {
    const summ = snapshot.rootEntry.summ ?? {};
    return {
      ...namespaceAndPvc(snapshot),
      hostname: snapshot.source.host,
      username: snapshot.source.userName,
      path: snapshot.source.path,
      id: snapshot.id,
      startTime: snapshot.startTime,
      ...(snapshot.endTime ? { endTime: snapshot.endTime } : {}),
      files: summ.files ?? 0,
      dirs: summ.dirs ?? 0,
      bytes: summ.size ?? 0,
      errors: summ.numFailed ?? 0,
      ...(snapshot.incomplete ? { incomplete: snapshot.incomplete } : {}),
    };
  });
  const key = (row: SnapshotRow) => [row.namespace, row.pvc, row.hostname, row.path];
  // Array.prototype.sort is stable: within a source the newest-first order stays.
  return rows.sort((a, b) => compareKeys(key(a), key(b)));
}

const compareKeys = (a: string[], b: string[]) => a.reduce((result, part, index) => result || (part < b[index]! ? -1 : part > b[index]! ? 1 : 0), 0);

/** `NAMESPACE PVC ID TIME FILES SIZE ERRORS`, columns aligned, times in UTC to the second. */
export function snapshotTable(rows: SnapshotRow[]): string[] {
  const header = ["NAMESPACE", "PVC", "ID", "TIME", "FILES", "SIZE", "ERRORS"];
  const cells = rows.map((row) => [row.namespace, row.pvc, row.id, utcSeconds(row.startTime), String(row.files), formatBytes(row.bytes), String(row.errors)]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => cell[column]!.length)));
  return [header, ...cells].map((cell) => cell.map((text, column) => text.padEnd(widths[column]!)).join("  ").trimEnd());
}

/** kopia may write a time in the machine's zone: the table shows UTC, to the second. */
const utcSeconds = (time: string) => {
  const nanos = epochNanos(time);
  return nanos === undefined ? time : `${formatNanos(nanos).slice(0, 19)}Z`;
};
