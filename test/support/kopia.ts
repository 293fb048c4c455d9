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
