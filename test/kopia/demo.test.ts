/**
 * The README's quick start on this checkout: `npm run demo` backs it up, `npm run demo:restore`
 * restores that snapshot with kopia-restore into a new folder and compares (both scripts as the
 * README runs them, with their state in a fresh cache folder).
 */
import { describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { repoRoot, tempDir } from "../support/processes.ts";

describe("quick start: demo and demo:restore", () => {
  test("the demo's snapshot restores into a new folder identical to the checkout", async () => {
    const cache = await tempDir("kk-demo-");
    const env = {
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      XDG_CACHE_HOME: cache,
      // The tools already provisioned, not a second build of kopia.
      KK_TOOLS_CACHE: dirname(process.env.KK_TOOLS_BIN!),
    };
    const run = (script: string, args: string[] = []) => {
      const child = Bun.spawnSync(["bash", join("test/tools", script), ...args], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
      return { exitCode: child.exitCode, output: child.stdout.toString() + child.stderr.toString() };
    };
    const backup = run("demo.sh");
    expect(backup.exitCode, backup.output).toBe(0);
    expect(backup.output).toContain("npm run demo:restore");

    const restore = run("demo-restore.sh");
    expect(restore.exitCode, restore.output).toBe(0);
    const summary = JSON.parse(await readFile(join(cache, "kopia-k8s/demo/last-summary.json"), "utf8"));
    const restoreSummary = JSON.parse(await readFile(join(cache, "kopia-k8s/demo/last-restore-summary.json"), "utf8"));
    expect(restoreSummary).toMatchObject({ result: "restored", exitCode: 0, snapshotId: summary.snapshotId, files: summary.files });
    expect(restore.output).toMatch(new RegExp(`demo: \\S+/restored-\\w+ is identical to ${repoRoot}`));
    const restored = join(cache, "kopia-k8s/demo", (await readdir(join(cache, "kopia-k8s/demo"))).find((name) => name.startsWith("restored-"))!);
    expect(await readFile(join(restored, "package.json"), "utf8")).toBe(await readFile(join(repoRoot, "package.json"), "utf8"));

    // A second restore into the now full folder is refused, not merged.
    const again = run("demo-restore.sh", [restored]);
    expect(again.exitCode, again.output).toBe(9);
  });
});
