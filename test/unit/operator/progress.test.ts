import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const progress = join(import.meta.dir, "../../../shared/operator/progress.ts");
const body = `import { withSpinner } from ${JSON.stringify(progress)};
const answer = await withSpinner("waiting for the Job", () => new Promise((resolve) => setTimeout(() => resolve(42), 400)));
console.log("answer " + answer);`;
const env = { ...process.env, CI: "" };

describe("withSpinner: zx's spinner on a terminal only", () => {
  test("on a terminal (a pty from script(1)) the frames show while the work runs, and its result comes back", () => {
    const child = Bun.spawnSync(["script", "-qec", `${process.execPath} -e '${body.replaceAll("'", "'\\''")}'`, "/dev/null"], { env, stdout: "pipe", stderr: "pipe" });
    const output = child.stdout.toString();
    expect(child.exitCode, child.stderr.toString()).toBe(0);
    expect(output).toContain("waiting for the Job");
    expect(output).toContain("answer 42");
  });

  test("into a pipe (a pod's log, cron mail, CI) nothing but the script's own output", () => {
    const child = Bun.spawnSync([process.execPath, "-e", body], { env, stdout: "pipe", stderr: "pipe" });
    expect(child.exitCode).toBe(0);
    expect(child.stdout.toString()).toBe("answer 42\n");
    expect(child.stderr.toString()).toBe("");
  });
});
