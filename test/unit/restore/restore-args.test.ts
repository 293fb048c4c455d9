import { describe, expect, test } from "bun:test";
import { restoreArgs, type RestoreFlags } from "../../../shared/restore/restore-args.ts";

const defaults: RestoreFlags = { overwrite: false, deleteExtra: false, skipExisting: false, skipOwners: false, ignoreErrors: false, parallel: 8, targetHoldsLostAndFound: false };
const args = (flags: Partial<RestoreFlags> = {}) => restoreArgs("2753d6c240167339c1a025d03a8be5e1", undefined, "/restore", { ...defaults, ...flags });

/** Every combination of the flags that decide about existing data. */
const combinations: Partial<RestoreFlags>[] = [];
for (const overwrite of [false, true]) for (const deleteExtra of [false, true]) for (const skipExisting of [false, true]) for (const skipOwners of [false, true]) for (const targetHoldsLostAndFound of [false, true]) {
  combinations.push({ overwrite, deleteExtra, skipExisting, skipOwners, targetHoldsLostAndFound });
}

describe("restoreArgs: what kopia is told", () => {
  test("a plain restore: by manifest ID, local mode, nothing overwritten, permission errors fatal, every default explicit", () => {
    expect(args()).toEqual([
      "snapshot", "restore", "2753d6c240167339c1a025d03a8be5e1", "/restore",
      "--mode=local",
      "--no-overwrite-files", "--no-overwrite-symlinks", "--no-overwrite-directories",
      "--no-skip-existing", "--no-delete-extra", "--no-write-files-atomically",
      "--no-skip-owners", "--no-ignore-permission-errors", "--no-ignore-errors",
      "--no-skip-permissions", "--no-skip-times", "--no-write-sparse-files", "--no-consistent-attributes",
      "--parallel=8", "--progress", "--no-auto-maintenance",
    ]);
  });

  test("never overwrites files or symlinks without --overwrite or --skip-existing, in any combination", () => {
    for (const flags of combinations) {
      const argv = args(flags);
      const replace = flags.overwrite || flags.skipExisting;
      expect(argv, JSON.stringify(flags)).toContain(replace ? "--overwrite-files" : "--no-overwrite-files");
      expect(argv, JSON.stringify(flags)).toContain(replace ? "--overwrite-symlinks" : "--no-overwrite-symlinks");
      expect(argv, JSON.stringify(flags)).toContain(flags.overwrite && flags.deleteExtra ? "--delete-extra" : "--no-delete-extra");
      // kopia's defaults are the dangerous ones: a flag left out would mean "overwrite" / "ignore".
      for (const name of ["overwrite-files", "overwrite-symlinks", "overwrite-directories", "delete-extra", "ignore-permission-errors", "ignore-errors", "skip-existing"]) {
        expect(argv.filter((arg) => arg === `--${name}` || arg === `--no-${name}`), name).toHaveLength(1);
      }
      expect(argv).toContain("--mode=local");
    }
  });

  test("folders are merged only when asked, or into a root that holds only lost+found (kopia would refuse it)", () => {
    expect(args()).toContain("--no-overwrite-directories");
    expect(args({ targetHoldsLostAndFound: true })).toContain("--overwrite-directories");
    expect(args({ targetHoldsLostAndFound: true })).toContain("--no-overwrite-files");
    expect(args({ overwrite: true })).toContain("--overwrite-directories");
  });

  test("permission errors are ignored only with --skip-owners", () => {
    expect(args()).toContain("--no-ignore-permission-errors");
    expect(args({ skipOwners: true })).toEqual(expect.arrayContaining(["--skip-owners", "--ignore-permission-errors"]));
  });

  test("--delete-extra without --overwrite deletes nothing", () => {
    expect(args({ deleteExtra: true })).toContain("--no-delete-extra");
  });

  test("replacing writes atomically; --skip-existing keeps what matches", () => {
    expect(args({ overwrite: true })).toContain("--write-files-atomically");
    expect(args({ skipExisting: true })).toEqual(expect.arrayContaining(["--skip-existing", "--write-files-atomically", "--overwrite-files"]));
  });

  test("a subpath is appended to the manifest ID; a target named like an archive stays a folder", () => {
    const argv = restoreArgs("2753d6c2", "uploads/2026", "/restore/backup.tar.gz", defaults);
    expect(argv.slice(0, 4)).toEqual(["snapshot", "restore", "2753d6c2/uploads/2026", "/restore/backup.tar.gz"]);
    expect(argv).toContain("--mode=local");
  });
});
