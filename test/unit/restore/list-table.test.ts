import { describe, expect, test } from "bun:test";
import { snapshotRows, snapshotTable } from "../../../shared/restore/list-table.ts";
import type { ListedSnapshot } from "../../../shared/restore/snapshots.ts";
import { describeFilter, hostnameOfNamespace, matchesSource } from "../../../shared/restore/source.ts";

const listed = (id: string, host: string, user: string, startTime: string, summ = { files: 10, size: 2048, numFailed: 0 }): ListedSnapshot => ({
  id, source: { host, userName: user, path: "/data" }, startTime, rootEntry: { obj: `k${id}`, summ },
});

describe("--list", () => {
  const snapshots = [
    listed("a1", "apps", "data", "2026-05-01T03:00:00Z"),
    listed("a2", "apps", "data", "2026-05-02T05:00:00+02:00", { files: 12, size: 3 * 1024 * 1024, numFailed: 2 }),
    listed("b1", "apps.homelab", "cache", "2026-05-03T03:00:00.123456789Z"),
    listed("c1", "db", "pg", "2026-04-01T03:00:00Z"),
  ];

  test("a table grouped by namespace and PVC, newest first within each, times in UTC", () => {
    expect(snapshotTable(snapshotRows(snapshots))).toEqual([
      "NAMESPACE  PVC    ID  TIME                  FILES  SIZE     ERRORS",
      "apps       cache  b1  2026-05-03T03:00:00Z  10     2.0 KiB  0",
      "apps       data   a2  2026-05-02T03:00:00Z  12     3.0 MiB  2",
      "apps       data   a1  2026-05-01T03:00:00Z  10     2.0 KiB  0",
      "db         pg     c1  2026-04-01T03:00:00Z  10     2.0 KiB  0",
    ]);
  });

  test("the namespace is read from operator-backup's hostname, cluster name or not", () => {
    expect(hostnameOfNamespace("apps")).toBe("apps");
    expect(hostnameOfNamespace("apps", "homelab")).toBe("apps.homelab");
    expect(snapshotRows([snapshots[2]!])[0]).toMatchObject({ namespace: "apps", pvc: "cache", hostname: "apps.homelab", username: "cache" });
  });

  test("filters: the namespace maps to the hostname, the PVC to the username", () => {
    const ids = (filter: Parameters<typeof matchesSource>[1]) => snapshots.filter((s) => matchesSource(s, filter)).map((s) => s.id);
    expect(ids({ hostname: "apps" })).toEqual(["a1", "a2"]);
    expect(ids({ hostname: "apps", username: "data" })).toEqual(["a1", "a2"]);
    expect(ids({ username: "pg", path: "/data" })).toEqual(["c1"]);
    expect(ids({ username: "pg", path: "/other" })).toEqual([]);
    expect(describeFilter({ hostname: "apps", username: "data" })).toBe("data@apps:*");
  });

  test("an empty list is just the header", () => {
    expect(snapshotTable([])).toEqual(["NAMESPACE  PVC  ID  TIME  FILES  SIZE  ERRORS"]);
  });
});
