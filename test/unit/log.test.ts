import { describe, expect, test } from "bun:test";
import { join } from "node:path";
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

describe("text logs written to a pipe", () => {
  const logModule = join(import.meta.dir, "../../shared/log.ts");
  /** Runs `body` in a child Bun whose stdout and stderr are pipes, as under cron or in a pod. */
  const runChild = (body: string, env: Record<string, string> = {}) =>
    Bun.spawnSync([process.execPath, "-e", `import { configureLog, log, writeLine } from ${JSON.stringify(logModule)};\n${body}`], {
      env: { ...process.env, ...env },
      stdout: "pipe",
      stderr: "pipe",
    });

  test("lines carry a UTC RFC 3339 time, no colours; info to stdout, warn to stderr; objects inspected", () => {
    const child = runChild(`configureLog({ format: "text", debug: false });
log.info("hello", { answer: 42 }, "tail");
log.warn("careful");
log.debug("hidden");`);
    expect(child.exitCode).toBe(0);
    const stdout = child.stdout.toString();
    expect(stdout).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z info    hello \{\s*answer: 42,?\s*\} tail\n$/);
    expect(child.stderr.toString()).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z warn    careful\n$/);
    expect(stdout + child.stderr.toString()).not.toContain("\x1b[");
  });

  test("a trailing plain object is a structured field: shown in JSON logs, left out of text", () => {
    const child = runChild(`configureLog({ format: "text", debug: false });
log.info("done", { files: 3 });`);
    expect(child.stdout.toString()).toMatch(/ info    done\n$/);
  });

  // Some parents leave stdout non-blocking (O_NONBLOCK is shared by every holder of the pipe): a full
  // pipe then answers EAGAIN, and a line must wait for the reader instead of being lost.
  test.each([
    ["a blocking", ""],
    ["a non-blocking", `const { symbols } = dlopen("libc.so.6", { fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000;
if (symbols.fcntl(1, F_SETFL, symbols.fcntl(1, F_GETFL, 0) | O_NONBLOCK) !== 0) throw new Error("fcntl failed");`],
  ])("writeLine delivers a 4 MiB line whole through %s pipe to a reader that starts late", async (_, makeNonBlocking) => {
    const script = `import { dlopen, FFIType } from "bun:ffi";
import { writeLine } from ${JSON.stringify(logModule)};
${makeNonBlocking}
writeLine(2, "ready");
writeLine(1, "x".repeat(4 * 1024 * 1024));
writeLine(1, "end");`;
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    // Wait until the child is about to write, then let it fill the pipe (64 KiB) before reading.
    const stderrReader = child.stderr.getReader();
    const decoder = new TextDecoder();
    let stderr = "";
    for (let chunk = await stderrReader.read(); !chunk.done; chunk = await stderrReader.read()) {
      stderr += decoder.decode(chunk.value);
      if (stderr.includes("ready\n")) break;
    }
    await Bun.sleep(300);
    const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    for (let chunk = await stderrReader.read(); !chunk.done; chunk = await stderrReader.read()) stderr += decoder.decode(chunk.value);
    expect(stderr).toBe("ready\n");
    expect(exitCode).toBe(0);
    expect(stdout.length).toBe(4 * 1024 * 1024 + "\nend\n".length);
    expect(stdout.endsWith("x\nend\n")).toBe(true);
  });

  test("a closed stdout loses the lines, not the run", async () => {
    const child = Bun.spawn(
      [process.execPath, "-e", `import { writeLine } from ${JSON.stringify(logModule)};
await Bun.sleep(200);
writeLine(1, "nobody reads this");
writeLine(2, "still running");`],
      { stdout: "pipe", stderr: "pipe" },
    );
    await child.stdout.cancel(); // the reader goes away before the first line
    const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect(stderr).toBe("still running\n");
    expect(exitCode).toBe(0);
  });
});
