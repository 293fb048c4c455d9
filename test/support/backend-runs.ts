import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TEST_PASSWORD } from "./kopia.ts";
import { repoRoot, tempDir } from "./processes.ts";
import { collect, scriptCommand, type ScriptRun } from "./scripts.ts";

/**
 * How a test reaches one storage backend: the URL for kopia-backup, the same storage as raw kopia
 * flags, the environment holding its credentials, and an optional wrapper every command runs in
 * (e.g. a namespace where the server's host name resolves).
 */
export interface BackendAccess {
  repository: string;
  storageArgs: string[];
  env: Record<string, string>;
  wrap?: (command: string[]) => string[];
}

const wrapped = (access: BackendAccess, command: string[]) => (access.wrap ? access.wrap(command) : command);

/** kopia-backup with exactly the given environment (plus PATH, HOME, TMPDIR), through the backend's wrapper. */
export async function runBackup(access: BackendAccess, args: string[], env: Record<string, string | undefined>): Promise<ScriptRun> {
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env };
  const child = Bun.spawn(wrapped(access, [...scriptCommand("kopia-backup"), ...args]), {
    cwd: repoRoot,
    env: Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdout: "pipe",
    stderr: "pipe",
  });
  return collect(child);
}

/** Raw kopia with its own config and cache, to check independently what kopia-backup stored. */
export async function rawKopiaOn(access: BackendAccess) {
  const dir = await tempDir("kk-raw-");
  const env = {
    ...process.env,
    ...access.env,
    KOPIA_CONFIG_PATH: join(dir, "repository.config"),
    KOPIA_CACHE_DIRECTORY: join(dir, "cache"),
    KOPIA_LOG_DIR: join(dir, "logs"),
    KOPIA_CHECK_FOR_UPDATES: "false",
    KOPIA_PASSWORD: TEST_PASSWORD,
  };
  const run = async (args: string[]) => {
    const child = Bun.spawn(wrapped(access, ["kopia", ...args]), { env, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (exitCode !== 0) throw new Error(`kopia ${args.join(" ")} failed (${exitCode}): ${stderr}`);
    return stdout;
  };
  await run(["repository", "connect", ...access.storageArgs]);
  return {
    snapshots: async (source: string) =>
      JSON.parse(await run(["snapshot", "list", "--json", source])) as { id: string; source: { path: string }; incomplete?: string; tags?: Record<string, string> }[],
    restore: (snapshotId: string, target: string) => run(["snapshot", "restore", snapshotId, target]),
  };
}

/** A kopia that writes each call's argv to a file before running the real one. */
export async function argvRecordingKopia(): Promise<{ binary: string; calls: () => Promise<string[]> }> {
  const dir = await tempDir("kk-argv-");
  const log = join(dir, "argv.log");
  const binary = join(dir, "kopia");
  await writeFile(binary, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec kopia "$@"\n`, { mode: 0o755 });
  return { binary, calls: async () => (await readFile(log, "utf8").catch(() => "")).trim().split("\n").filter(Boolean) };
}

/** Every file below a folder, as text (binary files too, enough to search for a string). */
export async function allText(folder: string): Promise<string> {
  const files = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  const texts = await Promise.all(files.filter((file) => file.isFile()).map((file) => readFile(join(file.parentPath, file.name), "latin1")));
  return texts.join("\n");
}
