import { ExitCode, KkError } from "../exit-codes.ts";
import { assertKopiaSucceeded, kopiaErrorMessage, kopiaFailure, runKopia, type KopiaContext } from "../kopia/run.ts";
import { log } from "../log.ts";
import { parseRestoredLine, type RestoredCounts } from "./restored-line.ts";
import { parseSnapshotList, type ListedSnapshot } from "./snapshots.ts";

/** Every snapshot in the repository (kopia's JSON list ignores --all and lists all sources). */
export async function listSnapshots(kopia: KopiaContext): Promise<ListedSnapshot[]> {
  const result = await runKopia(kopia, ["snapshot", "list", "--json", "--all", "--no-auto-maintenance"]);
  assertKopiaSucceeded(kopia, result, "listing snapshots");
  return parseSnapshotList(result.stdout);
}

/** A file, folder or symlink inside a snapshot, as its parent folder lists it. */
export interface SnapshotEntry {
  type: "directory" | "file" | "symlink" | "other";
  obj: string;
  files: number;
  bytes: number;
}

interface DirectoryJson {
  entries?: { name: string; type: string; obj: string; size?: number; summ?: { files?: number; size?: number } }[];
}

/**
 * The entry at `subpath` of a snapshot (the root when absent), read with `kopia show` of its parent
 * folder: a wrong path fails here, before anything is written. `root` is the snapshot's root entry.
 */
export async function resolveEntry(kopia: KopiaContext, snapshot: ListedSnapshot, subpath: string | undefined): Promise<SnapshotEntry> {
  const summ = snapshot.rootEntry.summ ?? {};
  if (!subpath) return { type: "directory", obj: snapshot.rootEntry.obj, files: summ.files ?? 0, bytes: summ.size ?? 0 };
  const parts = subpath.split("/");
  const name = parts.pop()!;
  const parent = [snapshot.rootEntry.obj, ...parts].join("/");
  const result = await runKopia(kopia, ["show", parent, "--no-auto-maintenance"]);
  const missing = () => new KkError(`--subpath ${subpath}: not in snapshot ${snapshot.id}; list its folders with: kopia ls ${snapshot.id}/${parts.join("/")}`, ExitCode.noSnapshot);
  if (result.exitCode !== 0) {
    throw kopiaFailure(kopia, result, "reading the snapshot", () => (/not found|not a directory/i.test(result.stderr) ? missing() : new KkError(`reading snapshot ${snapshot.id} failed: ${kopiaErrorMessage(result.stderr)}`, ExitCode.failed)));
  }
  let listing: DirectoryJson;
  try {
    listing = JSON.parse(result.stdout) as DirectoryJson;
  } catch {
    throw new KkError(`--subpath ${subpath}: ${parts.join("/") || "the snapshot's root"} is not a folder in snapshot ${snapshot.id}`, ExitCode.noSnapshot);
  }
  const entry = listing.entries?.find((item) => item.name === name);
  if (!entry) throw missing();
  const type = entry.type === "d" ? "directory" : entry.type === "f" ? "file" : entry.type === "s" ? "symlink" : "other";
  return type === "directory"
    ? { type, obj: entry.obj, files: entry.summ?.files ?? 0, bytes: entry.summ?.size ?? 0 }
    : { type, obj: entry.obj, files: type === "file" ? 1 : 0, bytes: entry.size ?? 0 };
}

/** Streams a file of a snapshot to stdout (`--target -`), never holding it in memory. */
export async function streamFile(kopia: KopiaContext, entry: SnapshotEntry): Promise<void> {
  const result = await runKopia(kopia, ["show", entry.obj, "--no-auto-maintenance"], undefined, { stdout: "inherit" });
  assertKopiaSucceeded(kopia, result, "streaming the file");
}

const PROGRESS_EVERY_MS = 10_000;

/** Runs `kopia snapshot restore`: progress logged every 10 s, errors as warnings, the closing line read. */
export async function runRestore(kopia: KopiaContext, args: string[]): Promise<{ exitCode: number; counts?: RestoredCounts; error: string }> {
  let counts: RestoredCounts | undefined;
  const result = await runKopia(kopia, args, progressLogger((line) => (counts = parseRestoredLine(line) ?? counts)));
  return { exitCode: result.exitCode, ...(counts ? { counts } : {}), error: kopiaErrorMessage(result.stderr) };
}

function progressLogger(onLine: (line: string) => void): (line: string) => void {
  let lastProgressAt = Date.now();
  return (line) => {
    const text = line.trim();
    onLine(text);
    if (/^Processed \d+/.test(text)) {
      if (Date.now() - lastProgressAt >= PROGRESS_EVERY_MS) {
        lastProgressAt = Date.now();
        log.info(`progress: ${text}`);
      }
      return;
    }
    if (/^ERROR|error|warning|unable to/i.test(text)) log.warn(`kopia: ${text.replace(/^ERROR\s+/, "")}`);
    else log.debug(`kopia: ${text}`);
  };
}
