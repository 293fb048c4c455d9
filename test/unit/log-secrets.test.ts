/**
 * Secret values from the environment are masked in every log line, at every level, in both
 * formats: each case runs in a child process that sets up logging as the scripts do and then
 * logs the secrets (the mask registry is process-wide, so a child keeps this file honest).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runScript } from "../support/scripts.ts";

const secrets = {
  KOPIA_PASSWORD: "unit-password-Zq81",
  AWS_SECRET_ACCESS_KEY: "unit-s3-secret-Wm42",
  // JSON and inspection escape `"` and `\`: masking the encoded text would miss this one.
  B2_KEY: 'unit-b2-"key\\Rt07',
};
const scriptOptions = join(import.meta.dir, "../../shared/script-options.ts");
const logModule = join(import.meta.dir, "../../shared/log.ts");

/** A child that starts logging as the scripts do (startLogging), then logs every secret at each level. */
function logSecretsInChild(format: "text" | "json") {
  const body = `import { startLogging } from ${JSON.stringify(scriptOptions)};
import { log } from ${JSON.stringify(logModule)};
startLogging({ logFormat: ${JSON.stringify(format)}, debug: true });
const all = Object.values(${JSON.stringify(secrets)});
log.debug("debug", ...all);
log.info(\`info \${all.join(" ")}\`, { fields: all });
log.info("inspected", { nested: { values: all } }, "tail");
log.warn(\`warn \${all.join(" ")}\`);
log.error(\`error \${all.join(" ")}\`);`;
  const child = Bun.spawnSync([process.execPath, "-e", body], { env: { PATH: process.env.PATH, ...secrets }, stdout: "pipe", stderr: "pipe" });
  return { exitCode: child.exitCode, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

function expectMasked(output: string) {
  for (const [name, value] of Object.entries(secrets)) expect(output, `${name} leaked`).not.toContain(value);
  expect(output).toContain("***");
}

describe("secrets from the environment are masked in every log line", () => {
  test("text format: debug, info (an inspected object too), warn and error lines show *** instead of each secret", () => {
    const { exitCode, stdout, stderr } = logSecretsInChild("text");
    expect(exitCode, stderr).toBe(0);
    expect(stdout).toMatch(/ debug +debug \*\*\* \*\*\* \*\*\*\n/);
    expect(stdout).toMatch(/ info +info \*\*\* \*\*\* \*\*\*\n/);
    expect(stdout).toContain('values: [ "***", "***", "***" ]');
    expect(stderr).toMatch(/ warn +warn \*\*\* \*\*\* \*\*\*\n/);
    expect(stderr).toMatch(/ error +error \*\*\* \*\*\* \*\*\*\n/);
    expectMasked(stdout + stderr);
  });

  test("JSON format: messages and structured fields show *** instead of each secret", () => {
    const { exitCode, stdout, stderr } = logSecretsInChild("json");
    expect(exitCode, stderr).toBe(0);
    const records = stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(records.map((record) => record.level)).toEqual(["debug", "info", "info", "warn", "error"]);
    expect(records[1]).toMatchObject({ msg: "info *** *** ***", fields: ["***", "***", "***"] });
    expect(records[4]).toMatchObject({ msg: "error *** *** ***" });
    // The decoded values, where an escaped secret would show again.
    expectMasked(records.map((record) => [record.msg, ...(record.fields ?? [])].join("\n")).join("\n"));
    expectMasked(stdout + stderr);
  });

  test.each(["text", "json"])("a script's own error line (%s) masks the password it was given", async (format) => {
    // The folder name holds the password (with a quote and a backslash): the usage error quotes it back.
    const password = 'unit-pass"word\\Zq81';
    const run = await runScript("kopia-backup", ["--path", `/nonexistent/${password}`, "--repository", "filesystem:///srv/backups", "--log-format", format], { KOPIA_PASSWORD: password });
    expect(run.exitCode, run.output).toBe(2);
    const message = format === "json" ? JSON.parse(run.stdout).msg : run.stderr;
    expect(message).toContain("--path: '/nonexistent/***' does not exist");
    expect(message).not.toContain(password);
    expect(run.output).not.toContain(password);
  });
});
