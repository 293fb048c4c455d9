import { join } from "node:path";
import { repoRoot } from "./processes.ts";

export interface ScriptRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for assertions on what a user sees. */
  output: string;
}

export type ScriptName = "kopia-backup" | "kopia-maintenance" | "kopia-restore" | "operator-backup" | "operator-restore";

/** Platforms `npm run build -- --platform` cross-compiles for, into dist/<os>-<arch>/. */
export type CrossPlatform = "linux/arm64" | "linux/amd64";

/** How a script is started: from source with bun, the compiled dist/ binary, or one cross-compiled for a platform. */
export function scriptCommand(name: ScriptName, compiled = false, platform?: CrossPlatform): string[] {
  if (platform) return [join(repoRoot, "dist", platform.replace("/", "-"), name)];
  return compiled ? [join(repoRoot, "dist", name)] : [process.execPath, join(repoRoot, "scripts", `${name}.ts`)];
}

/**
 * Runs a script with exactly the given environment (plus PATH and HOME), so nothing leaks in
 * from the developer's shell.
 */
export interface ScriptOptions {
  compiled?: boolean;
  /** Run the binary `npm run build -- --platform <platform>` made (under emulation on another machine). */
  platform?: CrossPlatform;
  cwd?: string;
  /** Run as this uid/gid (via setpriv), e.g. 65534 to be a user that cannot read root's files. */
  asUser?: number;
}

export function startScript(name: ScriptName, args: string[], env: Record<string, string | undefined>, options: ScriptOptions = {}) {
  const asUser = options.asUser === undefined ? [] : ["setpriv", `--reuid=${options.asUser}`, `--regid=${options.asUser}`, "--clear-groups"];
  return Bun.spawn([...asUser, ...scriptCommand(name, options.compiled, options.platform), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: cleanEnv(env),
    stdout: "pipe",
    stderr: "pipe",
  });
}

export async function runScript(name: ScriptName, args: string[], env: Record<string, string | undefined>, options: ScriptOptions = {}): Promise<ScriptRun> {
  const child = startScript(name, args, env, options);
  return collect(child);
}

export async function collect(child: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<ScriptRun> {
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr, output: stdout + stderr };
}

/** collect(), except that a run still going after `ms` is killed; it then reports `timedOut` (and exit code 137). */
export async function collectWithin(child: Bun.Subprocess<"ignore", "pipe", "pipe">, ms: number): Promise<ScriptRun & { timedOut: boolean }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, ms);
  const run = await collect(child);
  clearTimeout(timer);
  return { ...run, timedOut };
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env };
  return Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
