import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "..", "..");

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await Bun.sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const cleanups: (() => Promise<void> | void)[] = [];
/** Registered cleanups also run when the test process is interrupted. */
export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}
export async function runCleanups(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const cleanup of cleanups.reverse()) void cleanup();
    process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  });
}

export async function tempDir(prefix = "kk-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a long-running tool; it is killed on cleanup, even when a test fails. */
export function startDaemon(cmd: string[], env: Record<string, string> = {}): Bun.Subprocess {
  const child = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "ignore", stderr: "pipe" });
  onCleanup(async () => {
    child.kill("SIGKILL");
    await child.exited;
  });
  return child;
}

/**
 * A detached shell (own session) that outlives this process: `script` runs with `args` as $1…;
 * watchdogs use it to clean up after a test process that was SIGKILLed. Returns its pid (its group).
 */
export function startDetached(name: string, script: string, args: string[]): number {
  const child = Bun.spawn(["setsid", "sh", "-c", script, name, ...args], { stdio: ["ignore", "ignore", "ignore"] });
  child.unref();
  return child.pid;
}

/** Kills a process group started by startDetached, if it still runs. */
export function killProcessGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The command lines of running processes matching `pattern` (pgrep -af), pgrep itself left out. */
export async function processesRunning(pattern: string): Promise<string[]> {
  const ps = Bun.spawnSync(["pgrep", "-af", pattern]);
  return ps.stdout.toString().split("\n").filter((line) => line.trim() && !line.includes("pgrep"));
}

/** Waits until a process whose command line matches `pattern` (pgrep -f) runs; throws naming `what` after `timeoutMs`. */
export async function waitForProcess(pattern: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await processesRunning(pattern)).length === 0) {
    if (Date.now() > deadline) throw new Error(`${what} never started`);
    await Bun.sleep(20);
  }
}
