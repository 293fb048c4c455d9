import { describe, expect, test } from "bun:test";
import { usageErrorOf } from "../support/unit.ts";
import { parseOwner } from "../../shared/kopia/maintenance.ts";

describe("parseOwner", () => {
  test.each([
    ["maintenance@kopia-k8s", { username: "maintenance", hostname: "kopia-k8s" }],
    ["a@b", { username: "a", hostname: "b" }],
    ["backup_user.1@node-01.cluster.local", { username: "backup_user.1", hostname: "node-01.cluster.local" }],
  ])("%p is accepted", (value, expected) => {
    expect(parseOwner(value)).toEqual(expected);
  });

  test.each(["", "maintenance", "@host", "user@", "a@b@c", "-user@host", "user@.host", "_u@h", "us er@host", "user@ho st", " user@host"])(
    "%p is a usage error naming --owner",
    (value) => {
      expect(usageErrorOf(() => parseOwner(value)).message).toBe(`--owner: '${value}' must be user@host, e.g. maintenance@kopia-k8s`);
    },
  );
});
