import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { ExitCode, KkError } from "../exit-codes.ts";

/** What is at the target before anything is written. */
export type TargetState =
  | { kind: "absent" }
  /** A folder with nothing in it, or only the `lost+found` a fresh ext4 volume holds. */
  | { kind: "empty"; lostAndFound: boolean }
  | { kind: "not-empty"; entries: string[] }
  | { kind: "file" }
  | { kind: "other" };

/** A folder's state from its entries; a lone `lost+found` counts as empty. */
export function folderState(entries: string[]): TargetState {
  if (entries.length === 0) return { kind: "empty", lostAndFound: false };
  if (entries.length === 1 && entries[0] === "lost+found") return { kind: "empty", lostAndFound: true };
  return { kind: "not-empty", entries: [...entries].sort() };
}

/** The target as it is now (a symlink to a folder counts as that folder, as it does for kopia). */
export async function inspectTarget(path: string): Promise<TargetState> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw new KkError(`--target ${path}: cannot be inspected (${error.code ?? error.message}); nothing was written`, ExitCode.refused);
  });
  if (!info) return { kind: "absent" };
  if (info.isDirectory()) return folderState(await readdir(path));
  return info.isFile() ? { kind: "file" } : { kind: "other" };
}

export interface WriteMode {
  overwrite: boolean;
  skipExisting: boolean;
}

/**
 * Why restoring an entry of this type to the target must not happen, or undefined when it may:
 * only an absent or empty target is written without --overwrite or --skip-existing.
 */
export function targetRefusal(target: string, state: TargetState, entryType: "directory" | "file", mode: WriteMode): string | undefined {
  const allowed = mode.overwrite || mode.skipExisting;
  switch (state.kind) {
    case "absent":
    case "empty":
      return undefined;
    case "not-empty": {
      if (allowed) return undefined;
      const examples = state.entries.slice(0, 3).join(", ") + (state.entries.length > 3 ? ", …" : "");
      return `--target ${target}: not empty (${state.entries.length} entr${state.entries.length === 1 ? "y" : "ies"}: ${examples}); nothing was written. Restore into an empty or new folder, or add --overwrite (replace what differs; with --delete-extra also remove what the snapshot lacks) or --skip-existing (resume an interrupted restore)`;
    }
    case "file":
      if (entryType === "directory") return `--target ${target}: is a file, and the snapshot's entry is a folder; nothing was written. Give a folder that is empty or does not exist yet`;
      return allowed ? undefined : `--target ${target}: the file exists; nothing was written. Give a new name, or add --overwrite to replace it`;
    case "other":
      return `--target ${target}: is neither a file nor a folder; nothing was written. Give a folder that is empty or does not exist yet`;
  }
}

export const refusedError = (message: string) => new KkError(message, ExitCode.refused);

/**
 * Where an entry goes: a file (or symlink) restored to an existing folder lands inside it under its
 * own name, as `cp` does; anything else goes to the target itself.
 */
export async function targetForEntry(target: string, entryType: "directory" | "file" | "symlink" | "other", subpath: string | undefined): Promise<string> {
  if (entryType === "directory" || !subpath) return target;
  const info = await stat(target).catch(() => undefined);
  return info?.isDirectory() ? join(target, basename(subpath)) : target;
}
