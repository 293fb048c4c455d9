import { describe, expect, test } from "bun:test";
import { usageErrorOf } from "../support/unit.ts";
import { parseLogFormat, redact, registerSecret } from "../../shared/log.ts";

describe("parseLogFormat", () => {
  test("undefined defaults to text", () => {
    expect(parseLogFormat(undefined)).toBe("text");
  });

  test.each([
    ["text", "text"],
    ["TEXT", "text"],
    ["console", "text"],
    ["Console", "text"],
    ["json", "json"],
    ["JSON", "json"],
  ])("%p is %p", (value, expected) => {
    expect(parseLogFormat(value)).toBe(expected as "text" | "json");
  });

  test.each(["xml", "", "logfmt"])("%p is a usage error naming --log-format", (value) => {
    expect(usageErrorOf(() => parseLogFormat(value)).message).toBe(`--log-format: '${value}' is not a log format; use text or json (KK_LOG_FORMAT)`);
  });
});

describe("registerSecret and redact", () => {
  // The registry is module-global, so every test uses values no other test registers.
  test("text without secrets is unchanged", () => {
    expect(redact("nothing to hide here")).toBe("nothing to hide here");
  });

  test("every occurrence of a registered secret is masked", () => {
    registerSecret("unit-s3cr3t-alpha");
    expect(redact("password=unit-s3cr3t-alpha and again unit-s3cr3t-alpha.")).toBe("password=*** and again ***.");
  });

  test("several secrets are all masked", () => {
    registerSecret("unit-key-beta");
    registerSecret("unit-key-gamma");
    expect(redact("a=unit-key-beta b=unit-key-gamma")).toBe("a=*** b=***");
  });

  test("undefined, empty and values shorter than 4 characters are not registered", () => {
    registerSecret(undefined);
    registerSecret("");
    registerSecret("xyz");
    expect(redact("xyz stays, empty stays")).toBe("xyz stays, empty stays");
  });

  test("a 4-character secret is registered", () => {
    registerSecret("qwzx");
    expect(redact("token qwzx")).toBe("token ***");
  });
});
