import { describe, expect, test } from "bun:test";
import { parseKopiaBytes, parseRestoredLine } from "../../../shared/restore/restored-line.ts";

describe("parseRestoredLine", () => {
  test("the plain line", () => {
    expect(parseRestoredLine("Restored 1 files, 3 directories and 1 symbolic links (3 B).")).toEqual({ files: 1, dirs: 3, symlinks: 1, bytes: 3, skipped: 0, skippedBytes: 0, deleted: 0, errors: 0 });
  });

  test("every optional part kopia v0.23.1 may add", () => {
    const line = "Restored 16384 files, 2 directories and 0 symbolic links (1.1 GB), skipped 12 (4.5 MB), deleted directories 1, deleted files 3, deleted symbolic links 2, ignored 7 errors.";
    expect(parseRestoredLine(line)).toEqual({ files: 16384, dirs: 2, symlinks: 0, bytes: 1_100_000_000, skipped: 12, skippedBytes: 4_500_000, deleted: 6, errors: 7 });
  });

  test("base-2 units (KOPIA_BYTES_STRING_BASE_2)", () => {
    expect(parseRestoredLine("Restored 2 files, 1 directories and 0 symbolic links (1.5 KiB).")?.bytes).toBe(1536);
  });

  test("other lines are not taken for it", () => {
    for (const line of ["Restoring to local filesystem (/x) with parallelism=8...", "Processed 3 (3 B) of 3 (3 B).", "ERROR error restoring: boom", "Restored some files"]) {
      expect(parseRestoredLine(line)).toBeUndefined();
    }
  });

  test("parseKopiaBytes", () => {
    expect(parseKopiaBytes("0 B")).toBe(0);
    expect(parseKopiaBytes("999 B")).toBe(999);
    expect(parseKopiaBytes("1 KB")).toBe(1000);
    expect(parseKopiaBytes("2.3 TB")).toBe(2_300_000_000_000);
    expect(parseKopiaBytes("lots")).toBeUndefined();
  });
});
