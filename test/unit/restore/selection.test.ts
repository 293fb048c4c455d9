import { describe, expect, test } from "bun:test";
import { KkError } from "../../../shared/exit-codes.ts";
import { formatNanos, newestFirst, selectSnapshot, type Selection } from "../../../shared/restore/selection.ts";
import { epochNanos, parseAsOf } from "../../../shared/restore/snapshot-time.ts";
import type { ListedSnapshot } from "../../../shared/restore/snapshots.ts";
import { usageErrorOf } from "../../support/unit.ts";

const snapshot = (id: string, startTime: string, extra: Partial<ListedSnapshot> = {}): ListedSnapshot => ({
  id,
  source: { host: "apps", userName: "data", path: "/data" },
  startTime,
  endTime: startTime,
  rootEntry: { obj: `k${id}`, summ: { files: 1, size: 1 } },
  ...extra,
});

// Out of order on purpose: the selection must not depend on kopia's order.
const history = [
  snapshot("bbbb2222", "2026-05-02T03:00:00Z"),
  snapshot("aaaa1111", "2026-05-01T03:00:00Z"),
  snapshot("cccc3333", "2026-05-03T03:00:00.000000001Z"),
  snapshot("dddd4444", "2026-05-04T03:00:00Z", { incomplete: "canceled" }),
];

const pick = (selection: Selection, snapshots = history) => selectSnapshot(snapshots, selection, "data@apps:/data").id;

function noMatch(selection: Selection, snapshots = history): KkError {
  let caught: unknown;
  try {
    selectSnapshot(snapshots, selection, "data@apps:/data");
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(KkError);
  expect((caught as KkError).exitCode).toBe(8);
  return caught as KkError;
}

describe("selectSnapshot", () => {
  test("default: the newest complete snapshot, never the newer incomplete one", () => {
    expect(pick({})).toBe("cccc3333");
  });

  test("--offset counts complete snapshots back from the newest", () => {
    expect(pick({ offset: 0 })).toBe("cccc3333");
    expect(pick({ offset: 1 })).toBe("bbbb2222");
    expect(pick({ offset: 2 })).toBe("aaaa1111");
  });

  test("--offset past the oldest: exit 8 naming the oldest, never a fall-back", () => {
    const error = noMatch({ offset: 3 });
    expect(error.message).toContain("--offset 3: only 3 complete snapshots of data@apps:/data");
    expect(error.message).toContain("aaaa1111 (2026-05-01T03:00:00Z)");
  });

  test("--as-of exactly at a start time picks that snapshot (at or before)", () => {
    expect(pick({ asOf: parseAsOf("2026-05-02T03:00:00Z") })).toBe("bbbb2222");
  });

  test("--as-of one nanosecond before a start time picks the one before it", () => {
    expect(pick({ asOf: parseAsOf("2026-05-02T02:59:59.999999999Z") })).toBe("aaaa1111");
  });

  test("--as-of compares nanoseconds, which a JS Date would round away", () => {
    // cccc3333 started 1 ns after 03:00:00: not at or before 03:00:00.
    expect(pick({ asOf: parseAsOf("2026-05-03T03:00:00Z") })).toBe("bbbb2222");
    expect(pick({ asOf: parseAsOf("2026-05-03T03:00:00.000000001Z") })).toBe("cccc3333");
  });

  test("--as-of honours the zone: 05:00+02:00 is 03:00Z", () => {
    expect(pick({ asOf: parseAsOf("2026-05-02T05:00:00+02:00") })).toBe("bbbb2222");
    expect(pick({ asOf: parseAsOf("2026-05-02T04:59:59+02:00") })).toBe("aaaa1111");
  });

  test("--as-of after the incomplete snapshot still picks the newest complete one", () => {
    expect(pick({ asOf: parseAsOf("2030-01-01T00:00:00Z") })).toBe("cccc3333");
  });

  test("--as-of with --offset: the offset counts among those at or before", () => {
    expect(pick({ asOf: parseAsOf("2026-05-02T12:00:00Z"), offset: 1 })).toBe("aaaa1111");
    expect(noMatch({ asOf: parseAsOf("2026-05-02T12:00:00Z"), offset: 2 }).message).toContain("only 2 complete snapshots of data@apps:/data started at or before 2026-05-02T12:00:00Z");
  });

  test("--as-of before the oldest: exit 8 naming the nearest after it, oldest first", () => {
    const error = noMatch({ asOf: parseAsOf("2026-04-30T00:00:00Z") });
    expect(error.message).toBe(
      "no complete snapshot of data@apps:/data started at or before 2026-04-30T00:00:00Z; the nearest after it: aaaa1111 (2026-05-01T03:00:00Z), bbbb2222 (2026-05-02T03:00:00Z), cccc3333 (2026-05-03T03:00:00.000000001Z)",
    );
  });

  test("ties: equal start times are ordered by end time, then by ID, whatever kopia's order", () => {
    const tied = [
      snapshot("aaaa0001", "2026-05-01T03:00:00Z", { endTime: "2026-05-01T03:05:00Z" }),
      snapshot("ffff0002", "2026-05-01T03:00:00Z", { endTime: "2026-05-01T03:01:00Z" }),
      snapshot("bbbb0003", "2026-05-01T03:00:00Z", { endTime: "2026-05-01T03:05:00Z" }),
    ];
    expect(newestFirst(tied).map((s) => s.id)).toEqual(["bbbb0003", "aaaa0001", "ffff0002"]);
    expect(newestFirst([...tied].reverse()).map((s) => s.id)).toEqual(["bbbb0003", "aaaa0001", "ffff0002"]);
    expect(pick({}, tied)).toBe("bbbb0003");
    expect(pick({ asOf: parseAsOf("2026-05-01T03:00:00Z"), offset: 2 }, tied)).toBe("ffff0002");
  });

  test("a start time written in another zone sorts by its instant", () => {
    const zoned = [snapshot("aaaa0001", "2026-05-01T05:30:00+02:00"), snapshot("bbbb0002", "2026-05-01T03:00:00Z")];
    expect(pick({}, zoned)).toBe("aaaa0001"); // 03:30Z is after 03:00Z
  });

  test("--snapshot: a full ID or a unique prefix", () => {
    expect(pick({ snapshotId: "bbbb2222" })).toBe("bbbb2222");
    expect(pick({ snapshotId: "b" })).toBe("bbbb2222");
  });

  test("--snapshot: an ambiguous prefix is exit 8 listing the matches", () => {
    const similar = [snapshot("abcd0001", "2026-05-01T03:00:00Z"), snapshot("abce0002", "2026-05-02T03:00:00Z"), snapshot("ffff0003", "2026-05-03T03:00:00Z")];
    const error = noMatch({ snapshotId: "abc" }, similar);
    expect(error.message).toContain("--snapshot abc: 2 snapshots of data@apps:/data start with it; give more of the ID: abce0002");
    expect(error.message).toContain("abcd0001");
    expect(pick({ snapshotId: "abcd" }, similar)).toBe("abcd0001");
  });

  test("--snapshot naming an incomplete snapshot is exit 8 saying why", () => {
    const error = noMatch({ snapshotId: "dddd" });
    expect(error.message).toContain("snapshot dddd4444 is incomplete (canceled) and is never restored");
  });

  test("--snapshot that matches nothing is exit 8 naming the newest", () => {
    const error = noMatch({ snapshotId: "0123" });
    expect(error.message).toContain("--snapshot 0123: no snapshot of data@apps:/data has such an ID; the newest: cccc3333");
  });

  test("only incomplete snapshots, or none: exit 8", () => {
    expect(noMatch({}, [history[3]!]).message).toContain("no complete snapshot of data@apps:/data (only 1 incomplete, never restored)");
    expect(noMatch({}, []).message).toContain("no complete snapshot of data@apps:/data; see --list --all");
  });
});

describe("parseAsOf", () => {
  test("RFC 3339 with a zone, to the nanosecond", () => {
    expect(parseAsOf("2026-05-01T03:00:00Z")).toBe(BigInt(Date.UTC(2026, 4, 1, 3)) * 1_000_000n);
    expect(parseAsOf("2026-05-01T03:00:00.5Z") - parseAsOf("2026-05-01T03:00:00Z")).toBe(500_000_000n);
    expect(parseAsOf("2026-05-01T03:00:00.000000007Z") - parseAsOf("2026-05-01T03:00:00Z")).toBe(7n);
    expect(parseAsOf("2026-05-01T00:30:00-02:30")).toBe(parseAsOf("2026-05-01T03:00:00Z"));
  });

  test.each([
    ["2026-05-01", "give a time and a zone too, e.g. 2026-05-01T23:59:59Z"],
    ["2026-05-01T03:00:00", "add a zone (Z or ±hh:mm)"],
    ["2026-05-01 03:00", "add a zone"],
    ["yesterday", "use RFC 3339 with a zone"],
    ["2026-02-30T03:00:00Z", "use RFC 3339 with a zone"],
    ["2026-05-01T24:00:00Z", "use RFC 3339 with a zone"],
    ["1714532400", "use RFC 3339 with a zone"],
  ])("'%s' is refused: %s", (value, hint) => {
    const error = usageErrorOf(() => parseAsOf(value));
    expect(error.message).toContain(`--as-of: '${value}' is not a time with a zone`);
    expect(error.message).toContain(hint);
  });

  test("formatNanos writes UTC with the fraction only when there is one", () => {
    expect(formatNanos(epochNanos("2026-05-01T05:00:00+02:00")!)).toBe("2026-05-01T03:00:00Z");
    expect(formatNanos(epochNanos("2026-05-01T03:00:00.120Z")!)).toBe("2026-05-01T03:00:00.12Z");
  });
});
