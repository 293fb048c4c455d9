/**
 * Runs once before any test file: provisions the real tools (cached, so fast when already built)
 * and puts them on PATH. A missing tool fails the run; nothing is skipped.
 * KK_TOOLS_BIN, when set, names an already provisioned tools folder and skips provisioning.
 */
import { afterAll } from "bun:test";
import { join } from "node:path";
import { runCleanups } from "./processes.ts";

const repoRoot = join(import.meta.dir, "..", "..");

function provision(): string {
  const run = Bun.spawnSync(["bash", join(repoRoot, "test", "tools", "provision.sh")], { stdout: "pipe", stderr: "inherit" });
  if (run.exitCode !== 0) throw new Error(`test/tools/provision.sh failed with exit ${run.exitCode}`);
  return run.stdout.toString().trim().split("\n").at(-1)!;
}

const toolsBin = process.env.KK_TOOLS_BIN || provision();
process.env.KK_TOOLS_BIN = toolsBin;
process.env.PATH = `${toolsBin}:${join(repoRoot, "node_modules", ".bin")}:${process.env.PATH}`;

// Daemons and temp folders registered by tests go at the end of the run, even after failures
// (test files that start heavy daemons also clean up in their own afterAll).
afterAll(runCleanups);
