import { describe, expect, test } from "bun:test";
import { backoffMs } from "../../../shared/kube/backoff.ts";

describe("backoffMs", () => {
  test("doubles from 250 ms and stays at 10 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50, 5000].map((attempt) => backoffMs(attempt))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  });
});
