import { describe, expect, test } from "bun:test";
import { identityFileName } from "../../shared/kopia/context.ts";

describe("identityFileName: one config file per identity, a valid file name", () => {
  test("a short identity keeps its readable name", () => {
    expect(identityFileName({ username: "data-db-0", hostname: "apps" })).toBe("data-db-0@apps.config");
  });

  test("PVC and namespace names at their longest: within 255 bytes, and still unique", () => {
    const long = { username: `p${"v".repeat(251)}c`, hostname: `n${"s".repeat(61)}x` };
    const other = { ...long, username: `${long.username.slice(0, -1)}d` };
    expect(Buffer.byteLength(identityFileName(long))).toBeLessThanOrEqual(255);
    expect(identityFileName(long)).not.toBe(identityFileName(other));
  });

  test("names that differ only in characters a file name cannot hold stay apart", () => {
    expect(identityFileName({ username: "a_b", hostname: "h" })).not.toBe(identityFileName({ username: "a:b", hostname: "h" }));
  });
});
