import { describe, expect, test } from "bun:test";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { folderState, inspectTarget, targetForEntry, targetRefusal, type TargetState } from "../../../shared/restore/target.ts";
import { tempDir } from "../../support/processes.ts";

const strict = { overwrite: false, skipExisting: false };

describe("empty-target rule", () => {
  test("nothing, or a lone lost+found, is empty", () => {
    expect(folderState([])).toEqual({ kind: "empty", lostAndFound: false });
    expect(folderState(["lost+found"])).toEqual({ kind: "empty", lostAndFound: true });
  });

  test("lost+found beside anything else, or any other lone entry, is not empty", () => {
    expect(folderState(["lost+found", "data.db"])).toEqual({ kind: "not-empty", entries: ["data.db", "lost+found"] });
    expect(folderState([".hidden"]).kind).toBe("not-empty");
    expect(folderState(["lost+found2"]).kind).toBe("not-empty");
    expect(folderState(["Lost+Found"]).kind).toBe("not-empty");
  });

  test("absent and empty targets are written without any flag", () => {
    for (const state of [{ kind: "absent" }, { kind: "empty", lostAndFound: false }, { kind: "empty", lostAndFound: true }] as TargetState[]) {
      expect(targetRefusal("/t", state, "directory", strict)).toBeUndefined();
      expect(targetRefusal("/t", state, "file", strict)).toBeUndefined();
    }
  });

  test("a folder that is not empty is refused without --overwrite or --skip-existing, naming entries and the fix", () => {
    const state = folderState(["a", "b", "c", "d"]);
    expect(targetRefusal("/t", state, "directory", strict)).toBe(
      "--target /t: not empty (4 entries: a, b, c, …); nothing was written. Restore into an empty or new folder, or add --overwrite (replace what differs; with --delete-extra also remove what the snapshot lacks) or --skip-existing (resume an interrupted restore)",
    );
    expect(targetRefusal("/t", state, "directory", { overwrite: true, skipExisting: false })).toBeUndefined();
    expect(targetRefusal("/t", state, "directory", { overwrite: false, skipExisting: true })).toBeUndefined();
  });

  test("an existing file: refused unless --overwrite for a file, always for a folder", () => {
    expect(targetRefusal("/t", { kind: "file" }, "file", strict)).toContain("the file exists; nothing was written");
    expect(targetRefusal("/t", { kind: "file" }, "file", { overwrite: true, skipExisting: false })).toBeUndefined();
    expect(targetRefusal("/t", { kind: "file" }, "directory", { overwrite: true, skipExisting: true })).toContain("is a file, and the snapshot's entry is a folder");
    expect(targetRefusal("/t", { kind: "other" }, "directory", { overwrite: true, skipExisting: true })).toContain("is neither a file nor a folder");
  });
});

describe("inspectTarget and targetForEntry on a real filesystem", () => {
  test("states of real paths, a symlink to a folder counting as the folder", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "fresh-volume/lost+found"), { recursive: true });
    await mkdir(join(dir, "empty"));
    await writeFile(join(dir, "file"), "x");
    await symlink(join(dir, "fresh-volume"), join(dir, "link"));
    expect(await inspectTarget(join(dir, "missing"))).toEqual({ kind: "absent" });
    expect(await inspectTarget(join(dir, "empty"))).toEqual({ kind: "empty", lostAndFound: false });
    expect(await inspectTarget(join(dir, "fresh-volume"))).toEqual({ kind: "empty", lostAndFound: true });
    expect(await inspectTarget(join(dir, "link"))).toEqual({ kind: "empty", lostAndFound: true });
    expect(await inspectTarget(join(dir, "file"))).toEqual({ kind: "file" });
    expect((await inspectTarget(dir)).kind).toBe("not-empty");
  });

  test("a file restored to an existing folder lands inside it, as cp does", async () => {
    const dir = await tempDir();
    expect(await targetForEntry(dir, "file", "uploads/report.pdf")).toBe(join(dir, "report.pdf"));
    expect(await targetForEntry(join(dir, "new.pdf"), "file", "uploads/report.pdf")).toBe(join(dir, "new.pdf"));
    expect(await targetForEntry(dir, "directory", "uploads")).toBe(dir);
  });
});
