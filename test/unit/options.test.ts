import { describe, expect, test } from "bun:test";
import { isolateEnv, usageErrorOf } from "../support/unit.ts";
import {
  flagOrEnv,
  isAbsolutePath,
  listFlagOrEnv,
  parseBoolean,
  parseDuration,
  parseNonNegativeInteger,
  parsePositiveInteger,
} from "../../shared/options.ts";

/** Asserts a usage error (exit 2) whose message contains every fragment. */
function expectUsageError(run: () => unknown, ...fragments: string[]) {
  const error = usageErrorOf(run);
  for (const fragment of fragments) expect(error.message).toContain(fragment);
}

describe("parseDuration", () => {
  test.each([
    ["30s", 30_000],
    ["15m", 900_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1.5s", 1_500],
    [" 90s ", 90_000],
    ["1ms", 1],
    ["576h", 2_073_600_000],
  ])("%p is %p ms", (value, ms) => {
    expect(parseDuration(value, "--timeout")).toBe(ms);
  });

  // setTimeout fires after 1 ms for delays above 2^31-1 ms: 600h would time out at once.
  test.each(["0s", "0ms", "0h0m", "576h1ms", "577h", "600h", "2147483648ms", "99999999999999999999h"])(
    "%p is out of range, naming the field and the allowed range",
    (value) => {
      expectUsageError(() => parseDuration(value, "--pending-timeout"), `--pending-timeout: '${value}' is out of range`, "more than 0 and at most 24 days (576h)");
    },
  );

  test.each(["300", "abc", "5 m", "", "30s5", "1d", "-5s", "1h 30m", "m"])("%p is refused naming the field", (value) => {
    expectUsageError(() => parseDuration(value, "--timeout"), "--timeout", `'${value}' is not a duration`);
  });
});

describe("parseNonNegativeInteger", () => {
  test("undefined stays undefined", () => {
    expect(parseNonNegativeInteger(undefined, "--keep")).toBeUndefined();
  });

  test.each([
    ["0", 0],
    ["7", 7],
    [" 12 ", 12],
    ["007", 7],
  ])("%p is %p", (value, expected) => {
    expect(parseNonNegativeInteger(value, "--keep")).toBe(expected);
  });

  test.each(["-1", "1.5", "abc", "", "1e3", "7x", "0x10", "+7", "0b11"])("%p is refused naming the field", (value) => {
    expectUsageError(() => parseNonNegativeInteger(value, "--keep"), "--keep", `'${value}' is not a whole number`);
  });
});

describe("parsePositiveInteger", () => {
  test("undefined stays undefined", () => {
    expect(parsePositiveInteger(undefined, "--parallel")).toBeUndefined();
  });

  test("1 and 16 are accepted", () => {
    expect(parsePositiveInteger("1", "--parallel")).toBe(1);
    expect(parsePositiveInteger("16", "--parallel")).toBe(16);
  });

  test("0 is refused", () => {
    expectUsageError(() => parsePositiveInteger("0", "--parallel"), "--parallel: must be at least 1");
  });

  test("non-numbers are refused as whole numbers", () => {
    expectUsageError(() => parsePositiveInteger("-3", "--parallel"), "--parallel", "is not a whole number");
  });
});

describe("parseBoolean", () => {
  test.each(["1", "true", "TRUE", "yes", "On"])("%p is true", (value) => {
    expect(parseBoolean(value, "--flag")).toBe(true);
  });

  test.each(["0", "false", "False", "no", "off", ""])("%p is false", (value) => {
    expect(parseBoolean(value, "--flag")).toBe(false);
  });

  test("undefined is false", () => {
    expect(parseBoolean(undefined, "--flag")).toBe(false);
  });

  test.each(["maybe", "2", "y"])("%p is refused naming the field", (value) => {
    expectUsageError(() => parseBoolean(value, "--flag"), `--flag: '${value}' is not a boolean`);
  });
});

describe("isAbsolutePath", () => {
  test("only paths starting with / are absolute", () => {
    expect(isAbsolutePath("/srv")).toBe(true);
    expect(isAbsolutePath("srv")).toBe(false);
    expect(isAbsolutePath("./srv")).toBe(false);
  });
});

describe("flagOrEnv and listFlagOrEnv", () => {
  const NAMES = ["KK_UNIT_A", "KK_UNIT_B", "KK_UNIT_LIST"] as const;
  isolateEnv((name) => (NAMES as readonly string[]).includes(name));

  test("flag wins over env", () => {
    process.env.KK_UNIT_A = "from-env";
    expect(flagOrEnv("from-flag", "KK_UNIT_A")).toBe("from-flag");
  });

  test("non-string flags are stringified", () => {
    expect(flagOrEnv(5, "KK_UNIT_A")).toBe("5");
    expect(flagOrEnv(0, "KK_UNIT_A")).toBe("0");
  });

  test("empty, undefined and null flags fall back to the first set env var", () => {
    process.env.KK_UNIT_A = "";
    process.env.KK_UNIT_B = "b";
    expect(flagOrEnv(undefined, "KK_UNIT_A", "KK_UNIT_B")).toBe("b");
    expect(flagOrEnv(null, "KK_UNIT_A", "KK_UNIT_B")).toBe("b");
    expect(flagOrEnv("", "KK_UNIT_A", "KK_UNIT_B")).toBe("b");
    process.env.KK_UNIT_A = "a";
    expect(flagOrEnv(undefined, "KK_UNIT_A", "KK_UNIT_B")).toBe("a");
  });

  test("nothing set gives undefined", () => {
    expect(flagOrEnv(undefined, "KK_UNIT_A", "KK_UNIT_B")).toBeUndefined();
    expect(flagOrEnv(undefined)).toBeUndefined();
  });

  test("list: array flag is kept (stringified)", () => {
    process.env.KK_UNIT_LIST = "x,y";
    expect(listFlagOrEnv(["a", 2], "KK_UNIT_LIST")).toEqual(["a", "2"]);
  });

  test("list: a single flag value is one item", () => {
    process.env.KK_UNIT_LIST = "x,y";
    expect(listFlagOrEnv("ns1", "KK_UNIT_LIST")).toEqual(["ns1"]);
  });

  test("list: env is split on commas, trimmed, empties dropped", () => {
    process.env.KK_UNIT_LIST = " a, b ,,c ,";
    expect(listFlagOrEnv(undefined, "KK_UNIT_LIST")).toEqual(["a", "b", "c"]);
    expect(listFlagOrEnv("", "KK_UNIT_LIST")).toEqual(["a", "b", "c"]);
  });

  test("list: nothing set gives []", () => {
    expect(listFlagOrEnv(undefined, "KK_UNIT_LIST")).toEqual([]);
    process.env.KK_UNIT_LIST = "";
    expect(listFlagOrEnv(undefined, "KK_UNIT_LIST")).toEqual([]);
  });
});
