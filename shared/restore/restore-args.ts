/** How the restore may treat what is already at the target, and kopia's knobs that kopia-restore exposes. */
export interface RestoreFlags {
  /** Replace files, symlinks and folder attributes that differ from the snapshot. */
  overwrite: boolean;
  /** Also delete what the snapshot does not hold (a mirror); only with overwrite. */
  deleteExtra: boolean;
  /** Keep files that already match the snapshot (size and mtime), write the rest: resumes a restore. */
  skipExisting: boolean;
  /** Do not chown (a restore as non-root); permission errors are then ignored and counted. */
  skipOwners: boolean;
  /** Carry on past an unreadable entry (counted, exit 3) instead of stopping. */
  ignoreErrors: boolean;
  parallel: number;
  /** The target folder exists and holds only lost+found: kopia refuses a non-empty root unless told. */
  targetHoldsLostAndFound: boolean;
}

const toggle = (name: string, on: boolean) => (on ? `--${name}` : `--no-${name}`);

/**
 * `kopia snapshot restore` by manifest ID (plus an optional path inside the snapshot). Every flag
 * whose default is dangerous is set explicitly: kopia overwrites files, symlinks and folders and
 * ignores permission errors unless told not to, and guesses a tarball or zip from the target's name.
 */
export function restoreArgs(snapshotId: string, subpath: string | undefined, target: string, flags: RestoreFlags): string[] {
  const replace = flags.overwrite || flags.skipExisting;
  return [
    "snapshot", "restore", subpath ? `${snapshotId}/${subpath}` : snapshotId, target,
    "--mode=local",
    toggle("overwrite-files", replace),
    toggle("overwrite-symlinks", replace),
    toggle("overwrite-directories", replace || flags.targetHoldsLostAndFound),
    toggle("skip-existing", flags.skipExisting),
    toggle("delete-extra", flags.overwrite && flags.deleteExtra),
    // A file replaced in place is never seen half-written; a fresh restore needs no rename per file.
    toggle("write-files-atomically", replace),
    toggle("skip-owners", flags.skipOwners),
    toggle("ignore-permission-errors", flags.skipOwners),
    toggle("ignore-errors", flags.ignoreErrors),
    "--no-skip-permissions",
    "--no-skip-times",
    "--no-write-sparse-files",
    "--no-consistent-attributes",
    `--parallel=${flags.parallel}`,
    "--progress",
    "--no-auto-maintenance",
  ];
}
