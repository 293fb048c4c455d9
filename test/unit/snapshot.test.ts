import { describe, expect, test } from "bun:test";
import { formatBytes, parseSnapshotJson, summarizeSnapshot, type KopiaSnapshotJson } from "../../shared/snapshot.ts";

describe("parseSnapshotJson", () => {
  test("picks the JSON line among other text", () => {
    const stdout = [
      "Snapshotting root@host:/data ...",
      " * 0 hashing, 3 hashed (12 B), 0 cached (0 B), uploaded 40 B",
      '{"id":"k123","source":{"host":"h","userName":"u","path":"/data"},"rootEntry":{"summ":{"files":3}}}',
      "Done.",
    ].join("\n");
    expect(parseSnapshotJson(stdout)).toEqual({
      id: "k123",
      source: { host: "h", userName: "u", path: "/data" },
      rootEntry: { summ: { files: 3 } },
    });
  });

  test("takes the last valid JSON line and skips broken ones", () => {
    const stdout = '{"id":"first"}\n  {"id":"second"}  \n{not json\n';
    expect(parseSnapshotJson(stdout)?.id).toBe("second");
  });

  test("undefined when there is no JSON line", () => {
    expect(parseSnapshotJson("")).toBeUndefined();
    expect(parseSnapshotJson("error: something\nno json here\n")).toBeUndefined();
    expect(parseSnapshotJson("{broken\n")).toBeUndefined();
  });
});

describe("summarizeSnapshot", () => {
  const startedAt = new Date("2024-05-01T10:00:00.000Z");
  const endedAt = new Date("2024-05-01T10:01:02.500Z");
  const common = { source: "u@h:/data", startedAt, endedAt, kopiaError: "" };
  const snapshot = (summ: NonNullable<KopiaSnapshotJson["rootEntry"]>["summ"], extra: Partial<KopiaSnapshotJson> = {}): KopiaSnapshotJson => ({
    id: "k42",
    rootEntry: { summ },
    ...extra,
  });

  test("success", () => {
    expect(summarizeSnapshot({ ...common, exitCode: 0, snapshot: snapshot({ files: 10, dirs: 2, size: 2048, numFailed: 0, numIgnoredErrors: 1 }) })).toEqual({
      result: "success",
      exitCode: 0,
      source: "u@h:/data",
      snapshotId: "k42",
      files: 10,
      dirs: 2,
      bytes: 2048,
      errors: 0,
      ignoredErrors: 1,
      durationSeconds: 62.5,
      startTime: "2024-05-01T10:00:00.000Z",
      endTime: "2024-05-01T10:01:02.500Z",
      message: "snapshot k42: 10 files, 2.0 KiB, 0 errors",
    });
  });

  test("partial: failed files give exit 3 and at most 5 error samples", () => {
    const errors = Array.from({ length: 7 }, (_, i) => ({ path: `/data/f${i}`, error: "permission denied" }));
    const summary = summarizeSnapshot({ ...common, exitCode: 1, kopiaError: "ignored", snapshot: snapshot({ files: 5, size: 10, numFailed: 7, errors }) });
    expect(summary.result).toBe("partial");
    expect(summary.exitCode).toBe(3);
    expect(summary.errors).toBe(7);
    expect(summary.errorSamples).toEqual(errors.slice(0, 5));
    expect(summary.message).toBe("snapshot k42 saved without 7 unreadable entries: 5 files, 10 B, 7 errors");
  });

  test("partial even when kopia exited 0", () => {
    const summary = summarizeSnapshot({ ...common, exitCode: 0, snapshot: snapshot({ numFailed: 1 }) });
    expect([summary.result, summary.exitCode]).toEqual(["partial", 3]);
  });

  test("incomplete gives exit 4 and wins over failed files", () => {
    const summary = summarizeSnapshot({ ...common, exitCode: 0, snapshot: snapshot({ files: 1, numFailed: 2 }, { incomplete: "canceled" }) });
    expect(summary.result).toBe("incomplete");
    expect(summary.exitCode).toBe(4);
    expect(summary.message).toBe("snapshot k42 is incomplete (canceled): 1 files, 0 B, 2 errors");
  });

  test("fatal without a snapshot gives exit 1, zero counts and no snapshotId", () => {
    const summary = summarizeSnapshot({ ...common, exitCode: 1, kopiaError: "unable to connect", snapshot: undefined });
    expect(summary).toEqual({
      result: "fatal",
      exitCode: 1,
      source: "u@h:/data",
      files: 0,
      dirs: 0,
      bytes: 0,
      errors: 0,
      ignoredErrors: 0,
      durationSeconds: 62.5,
      startTime: "2024-05-01T10:00:00.000Z",
      endTime: "2024-05-01T10:01:02.500Z",
      message: "no snapshot saved: unable to connect",
    });
  });

  test("fatal when the JSON has no id", () => {
    const summary = summarizeSnapshot({ ...common, exitCode: 0, kopiaError: "odd", snapshot: { rootEntry: { summ: { files: 3 } } } });
    expect([summary.result, summary.exitCode, summary.message]).toEqual(["fatal", 1, "no snapshot saved: odd"]);
  });

  test("exit 1 with a complete snapshot and no failed files is fatal", () => {
    const summary = summarizeSnapshot({ ...common, exitCode: 1, kopiaError: "flush failed", snapshot: snapshot({ files: 3, numFailed: 0 }) });
    expect(summary.result).toBe("fatal");
    expect(summary.exitCode).toBe(1);
    expect(summary.snapshotId).toBe("k42");
    expect(summary.message).toBe("snapshot k42 saved, but kopia failed afterwards: flush failed");
  });

  test("durationSeconds is rounded to milliseconds", () => {
    const summary = summarizeSnapshot({
      ...common,
      startedAt: new Date(0),
      endedAt: new Date(1234),
      exitCode: 0,
      snapshot: snapshot({}),
    });
    expect(summary.durationSeconds).toBe(1.234);
    expect(summary.errorSamples).toBeUndefined();
  });
});

describe("formatBytes", () => {
  test.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [1024 ** 2, "1.0 MiB"],
    [5.25 * 1024 ** 3, "5.3 GiB"],
    [1024 ** 4, "1.0 TiB"],
    [1024 ** 5, "1024.0 TiB"],
  ])("%p is %p", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
