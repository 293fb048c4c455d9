import { describe, expect, test } from "bun:test";
import { ExitCode } from "../../shared/exit-codes.ts";
import type { BackupResult, BackupSummary } from "../../shared/snapshot.ts";
import { fitSummary, MAX_VOLUMES, parseVolumesSummary, SUMMARY_FILE_LIMIT, summarizeVolumes } from "../../shared/volumes-summary.ts";

const EXIT: Record<BackupResult, BackupSummary["exitCode"]> = { success: ExitCode.ok, partial: ExitCode.partial, incomplete: ExitCode.incomplete, fatal: ExitCode.failed };

function volume(username: string, result: BackupResult, extra: Partial<BackupSummary> = {}): BackupSummary {
  return {
    result,
    exitCode: EXIT[result],
    source: `${username}@apps:/data`,
    ...(result === "fatal" ? {} : { snapshotId: Bun.hash(username).toString(16).padStart(32, "0").slice(0, 32) }),
    files: 12,
    dirs: 3,
    bytes: 1234,
    errors: result === "partial" ? 1 : 0,
    ignoredErrors: 0,
    durationSeconds: 1.5,
    startTime: "2024-05-01T10:00:00.000Z",
    endTime: "2024-05-01T10:00:01.500Z",
    message: `${result} of ${username}`,
    ...extra,
  };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe("summarizeVolumes: the run is its worst volume", () => {
  test.each([
    [["success", "success"], "success", 0],
    [["success", "partial", "success"], "partial", 3],
    [["partial", "incomplete"], "incomplete", 4],
    [["incomplete", "fatal", "partial"], "fatal", 1],
  ] as [BackupResult[], BackupResult, number][])("%p → %p, exit %p", (results, result, exitCode) => {
    const run = summarizeVolumes(results.map((r, index) => volume(`v${index}`, r)));
    expect(run).toMatchObject({ result, exitCode });
    expect(run.volumes).toHaveLength(results.length);
  });

  test("a repository failure (exit 5) outranks a failed volume; the first of equals is named", () => {
    const repository = { result: "fatal" as const, exitCode: ExitCode.repository, message: "repository x: wrong password" };
    const run = summarizeVolumes([volume("a", "fatal"), volume("b", "fatal", repository), volume("c", "fatal", repository)]);
    expect(run.exitCode).toBe(5);
    expect(run.message).toBe("3 volumes: 3 fatal; worst: b@apps:/data: repository x: wrong password");
  });

  test("cancelled: the running volume incomplete, the rest not started, exit 4", () => {
    const notStarted = { exitCode: ExitCode.incomplete, message: "not started (cancelled)" };
    const run = summarizeVolumes([volume("a", "success"), volume("b", "incomplete"), volume("c", "fatal", notStarted)]);
    expect(run).toMatchObject({ result: "incomplete", exitCode: 4 });
    expect(run.message).toStartWith("3 volumes: 1 success, 1 incomplete, 1 fatal; worst: b@apps:/data");
  });

  test("all success: the message counts them", () => {
    expect(summarizeVolumes([volume("a", "success"), volume("b", "success")]).message).toBe("2 volumes: 2 success");
  });
});

describe("fitSummary: at most 4096 bytes, every volume kept", () => {
  test("a small run is written whole, and parses back with usernames", () => {
    const run = summarizeVolumes([volume("data-a", "success"), volume("data-b", "partial", { errorSamples: [{ path: "x", error: "permission denied" }] })]);
    const written = fitSummary(run);
    expect(written).toEqual(run);
    const parsed = parseVolumesSummary(JSON.stringify(written))!;
    expect(parsed.volumes.map((v) => [v.username, v.result, v.exitCode, v.snapshotId, v.files])).toEqual(run.volumes.map((v) => [v.source.split("@")[0], v.result, v.exitCode, v.snapshotId, 12]));
    expect(parsed.volumes[1]!.errorSamples).toEqual([{ path: "x", error: "permission denied" }]);
  });

  test("error samples go first, then messages are cut", () => {
    const samples = Array.from({ length: 5 }, (_, index) => ({ path: `folder/${"p".repeat(80)}-${index}`, error: "permission denied" }));
    const run = summarizeVolumes(Array.from({ length: 5 }, (_, index) => volume(`v${index}`, "partial", { errorSamples: samples })));
    const written = fitSummary(run);
    expect(bytes(run)).toBeGreaterThan(SUMMARY_FILE_LIMIT);
    expect(bytes(written)).toBeLessThanOrEqual(SUMMARY_FILE_LIMIT);
    expect(written.volumes.every((v) => !("errorSamples" in v))).toBe(true);
    expect((written.volumes[0] as BackupSummary).message).toBe("partial of v0");

    const long = summarizeVolumes(Array.from({ length: 6 }, (_, index) => volume(`v${index}`, "fatal", { message: `no snapshot saved: ${"kopia said something long ".repeat(20)}` })));
    const cut = fitSummary(long);
    expect(bytes(long)).toBeGreaterThan(SUMMARY_FILE_LIMIT);
    expect(bytes(cut)).toBeLessThanOrEqual(SUMMARY_FILE_LIMIT);
    const message = (cut.volumes[0] as BackupSummary).message;
    expect(message.length).toBe(200);
    expect(message).toStartWith("no snapshot saved: kopia said");
    expect(message).toEndWith("…");
    expect((cut.volumes[0] as BackupSummary).source).toBe("v0@apps:/data");
  });

  test("50 volumes with short PVC names: positional values with the username", () => {
    const run = summarizeVolumes(Array.from({ length: MAX_VOLUMES }, (_, index) => volume(`data-${index}`, index === 7 ? "partial" : "success")));
    const written = fitSummary(run);
    expect(bytes(written)).toBeLessThanOrEqual(SUMMARY_FILE_LIMIT);
    expect(written.fields).toEqual(["username", "result", "exitCode", "snapshotId", "files", "bytes", "errors"]);
    expect(written.volumes[7]).toEqual(["data-7", "partial", 3, run.volumes[7]!.snapshotId, 12, 1234, 1]);
    const parsed = parseVolumesSummary(JSON.stringify(written))!;
    expect(parsed).toMatchObject({ result: "partial", exitCode: 3 });
    expect(parsed.volumes.map((v) => v.username)).toEqual(run.volumes.map((_, index) => `data-${index}`));
    expect(parsed.volumes[7]).toEqual({ username: "data-7", result: "partial", exitCode: 3, snapshotId: run.volumes[7]!.snapshotId!, files: 12, bytes: 1234, errors: 1 });
  });

  test(`AT the maximum: ${MAX_VOLUMES} volumes, 253-character names, long messages, huge counts → ≤ 4096 bytes, every volume with its result and snapshot ID`, () => {
    const results: BackupResult[] = ["success", "partial", "incomplete", "fatal"];
    const volumes = Array.from({ length: MAX_VOLUMES }, (_, index) => {
      const username = `${String(index).padStart(2, "0")}-${"x".repeat(250)}`;
      const result = results[index % results.length]!;
      return volume(username, result, {
        source: `${username}@${"n".repeat(63)}:/data`,
        snapshotId: result === "fatal" ? undefined : index.toString(16).padStart(32, "f"),
        files: 9_999_999_999,
        bytes: 999_999_999_999_999,
        errors: 99_999,
        message: `kopia failed: ${"ünïcødé \"quoted\" path/".repeat(40)}`,
        errorSamples: Array.from({ length: 5 }, () => ({ path: "p".repeat(200), error: "permission denied" })),
      });
    });
    for (const v of volumes) if (v.snapshotId === undefined) delete v.snapshotId;
    const run = summarizeVolumes(volumes);
    const text = JSON.stringify(fitSummary(run));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_FILE_LIMIT);

    const parsed = parseVolumesSummary(text)!;
    expect(parsed).toMatchObject({ result: "fatal", exitCode: 1 });
    expect(parsed.volumes).toHaveLength(MAX_VOLUMES);
    expect(parsed.volumes.map((v) => [v.result, v.exitCode, v.snapshotId])).toEqual(volumes.map((v) => [v.result, v.exitCode, v.snapshotId]));
  });

  test(`the worst case: ${MAX_VOLUMES} volumes all incomplete (the longest result) with huge counts → result, exit code and snapshot ID only`, () => {
    const volumes = Array.from({ length: MAX_VOLUMES }, (_, index) =>
      volume(`${index}-${"z".repeat(250)}`, "incomplete", { snapshotId: index.toString(16).padStart(32, "e"), files: 9_999_999_999, bytes: 999_999_999_999_999, errors: 99_999, message: "\u0001".repeat(500) }),
    );
    const written = fitSummary(summarizeVolumes(volumes));
    expect(bytes(written)).toBeLessThanOrEqual(SUMMARY_FILE_LIMIT);
    expect(written.fields).toEqual(["result", "exitCode", "snapshotId"]);
    const parsed = parseVolumesSummary(JSON.stringify(written))!;
    expect(parsed.volumes.map((v) => [v.result, v.exitCode, v.snapshotId])).toEqual(volumes.map((v) => ["incomplete", 4, v.snapshotId]));
  });

  test("a form with counts is kept while it fits: 50 long-named volumes with ordinary counts keep files, bytes and errors", () => {
    const volumes = Array.from({ length: MAX_VOLUMES }, (_, index) => volume(`${index}-${"y".repeat(240)}`, index % 2 ? "success" : "partial"));
    const parsed = parseVolumesSummary(JSON.stringify(fitSummary(summarizeVolumes(volumes))))!;
    expect(parsed.volumes.map((v) => [v.result, v.snapshotId, v.files, v.bytes, v.errors])).toEqual(volumes.map((v) => [v.result, v.snapshotId, 12, 1234, v.errors]));
  });
});

describe("parseVolumesSummary", () => {
  test.each([["not json"], ['{"result":"success","exitCode":0,"source":"a@b:/data"}'], ['{"result":"success","exitCode":0,"volumes":[{"result":"great"}]}'], ["[]"], ['"text"']])("%p is not a --volumes summary", (text) => {
    expect(parseVolumesSummary(text)).toBeUndefined();
  });

  test("a positional entry becomes an object; null values are left out", () => {
    const text = JSON.stringify({ result: "fatal", exitCode: 1, message: "m", fields: ["result", "exitCode", "snapshotId"], volumes: [["success", 0, "k1"], ["fatal", 1, null]] });
    expect(parseVolumesSummary(text)!.volumes).toEqual([{ result: "success", exitCode: 0, snapshotId: "k1" }, { result: "fatal", exitCode: 1 }]);
  });
});
