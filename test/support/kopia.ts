import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "./processes.ts";

export const TEST_PASSWORD = "correct horse battery staple 42";

/** Environment for a kopia-backup run whose config, cache and logs live in a fresh folder. */
export async function isolatedKopiaEnv(extra: Record<string, string | undefined> = {}) {
  const home = await tempDir("kk-home-");
  return {
    home,
    env: { HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache"), KOPIA_PASSWORD: TEST_PASSWORD, ...extra },
  };
}

/** Raw kopia with its own config, for checking what kopia-backup did (list, restore) independently. */
export async function rawKopia(storageArgs: string[], env: Record<string, string> = {}) {
  const dir = await tempDir("kk-raw-");
  const baseEnv = {
    ...process.env,
    KOPIA_CONFIG_PATH: join(dir, "repository.config"),
    KOPIA_CACHE_DIRECTORY: join(dir, "cache"),
    KOPIA_LOG_DIR: join(dir, "logs"),
    KOPIA_CHECK_FOR_UPDATES: "false",
    KOPIA_PASSWORD: TEST_PASSWORD,
    ...env,
  };
  const run = async (args: string[]) => {
    const child = Bun.spawn(["kopia", ...args], { env: baseEnv, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (exitCode !== 0) throw new Error(`kopia ${args.join(" ")} failed (${exitCode}): ${stderr}`);
    return stdout;
  };
  let connected = false;
  const ensureConnected = async () => {
    if (!connected) await run(["repository", "connect", ...storageArgs]);
    connected = true;
  };
  return {
    run,
    ensureConnected,
    snapshots: async (source: string) => {
      await ensureConnected();
      return JSON.parse(await run(["snapshot", "list", "--json", source])) as { id: string; source: { host: string; userName: string; path: string }; incomplete?: string; tags?: Record<string, string> }[];
    },
    restore: async (snapshotId: string, target: string) => {
      await ensureConnected();
      await run(["snapshot", "restore", snapshotId, target]);
    },
  };
}

/**
 * A kopia wrapper for --kopia-path that records every call's argv, one line each, then runs the real
 * kopia (`kopia` on PATH unless another binary is named). Sampling /proc can miss a short call; this
 * cannot. Other users may run it too (the folder and the log are open to all).
 */
export async function kopiaArgvRecorder(kopia = "kopia") {
  const dir = await tempDir("kk-argv-");
  await chmod(dir, 0o755);
  const log = join(dir, "argv.log");
  await writeFile(log, "");
  await chmod(log, 0o666);
  const path = join(dir, "kopia");
  await writeFile(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${kopia}' "$@"\n`, { mode: 0o755 });
  const calls = async () => (await readFile(log, "utf8")).split("\n").filter(Boolean);
  return {
    /** The value for --kopia-path. */
    path,
    /** Every call's arguments, space-separated, in order. */
    calls,
    /** Every call's first two words: `repository connect`, `snapshot create`, … */
    commands: async () => (await calls()).map((call) => call.split(" ").slice(0, 2).join(" ")),
  };
}

/**
 * A copy of the provisioned kopia in `dir`, runnable by any user: the cached build may sit in root's
 * private home, out of reach of the uid a test runs kopia-backup as.
 */
export async function kopiaForAnyUser(dir: string): Promise<string> {
  const binary = join(dir, "kopia");
  await Bun.write(binary, Bun.file(join(process.env.KK_TOOLS_BIN!, "kopia")));
  await chmod(binary, 0o755);
  return binary;
}
