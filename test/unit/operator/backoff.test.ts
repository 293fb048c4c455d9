import { describe, expect, test } from "bun:test";
import { retryDelays } from "../../../shared/operator/backoff.ts";

describe("retryDelays", () => {
  test("doubles from 250 ms and stays at 10 s", () => {
    const delays = retryDelays();
    const first = Array.from({ length: 10 }, () => delays.next().value);
    expect(first).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  });

  test("each sequence starts again from 250 ms", () => {
    retryDelays().next();
    expect(retryDelays().next().value).toBe(250);
  });
});
