/**
 * kopia-backup creates a repository only when the storage is empty. A location that holds a
 * repository kopia cannot open (a corrupt or unreadable format blob, another user's repository)
 * is an error, never a reason to create one: every kopia call is recorded, and the only one is
 * `repository connect`.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { chmod, cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fingerprintFolder } from "../support/corpus.ts";
import { isolatedKopiaEnv, kopiaArgvRecorder, kopiaForAnyUser, TEST_PASSWORD } from "../support/kopia.ts";
import { tempDir } from "../support/processes.ts";
import { runScript, type ScriptRun } from "../support/scripts.ts";

const NOBODY = 65534;

interface Case {
  name: string;
  /** Makes the repository folder from a fresh, valid repository. */
  spoil: (repository: string) => Promise<void>;
  /** Run kopia-backup as this user instead of root. */
  asUser?: number;
  error: RegExp;
}

const cases: Case[] = [
  {
    name: "a corrupt kopia.repository.f",
    spoil: (repository) => writeFile(join(repository, "kopia.repository.f"), "not a format blob\n"),
    error: /invalid format blob/,
  },
  {
    name: "an unreadable kopia.repository.f",
    // The folder and its shard settings are readable; only the format blob is not.
    spoil: async (repository) => {
      await chmod(repository, 0o755);
      await chmod(join(repository, ".shards"), 0o644);
      await chmod(join(repository, "kopia.repository.f"), 0o600);
    },
    asUser: NOBODY,
    error: /kopia\.repository\.f: permission denied/,
  },
  {
    name: "a repository owned by another user",
    // As kopia made it: folders 0700, files 0600, all root's.
    spoil: async () => {},
    asUser: NOBODY,
    error: /permission denied/,
  },
];

let valid: string;
let data: string;
let shared: string;
/** Each case's run, started together in beforeAll: a permission error costs kopia ~11 s of retries. */
const runs = new Map<string, Promise<{ run: ScriptRun; commands: string[]; before: string[]; after: string[] }>>();

beforeAll(async () => {
  // A folder every user may enter, holding a kopia binary nobody can run (the cached build may sit
  // in root's private home) and a small volume to back up.
  shared = await tempDir("kk-create-");
  await chmod(shared, 0o755);
  data = join(shared, "data");
  await mkdir(data, { mode: 0o755 });
  await writeFile(join(data, "file.txt"), "content\n", { mode: 0o644 });
  await kopiaForAnyUser(shared);

  valid = join(shared, "valid");
  const created = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${valid}`], (await isolatedKopiaEnv()).env);
  expect(created.exitCode, created.output).toBe(0);

  for (const [index, c] of cases.entries()) {
    const run = runCase(c, join(shared, `repository-${index}`));
    run.catch(() => {}); // reported by the case's test, which awaits it
    runs.set(c.name, run);
  }
});

async function runCase(c: Case, repository: string) {
  await cp(valid, repository, { recursive: true });
  await c.spoil(repository);
  const before = await fingerprintFolder(repository);
  const kopia = await kopiaArgvRecorder(join(shared, "kopia"));
  const home = await tempDir("kk-home-");
  await chmod(home, 0o777);
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache"), KOPIA_PASSWORD: TEST_PASSWORD };
  const run = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repository}`, "--kopia-path", kopia.path], env, c.asUser === undefined ? {} : { asUser: c.asUser });
  return { run, commands: await kopia.commands(), before, after: await fingerprintFolder(repository) };
}

describe("a repository kopia cannot open is never replaced by a new one", () => {
  for (const c of cases) {
    test(`${c.name}: exit 5, one error line, only \`repository connect\` ran, the storage is untouched`, async () => {
      const { run, commands, before, after } = await runs.get(c.name)!;
      expect(commands, run.output).toEqual(["repository connect"]);
      expect(run.exitCode, run.output).toBe(5);
      const errorLines = run.stderr.split("\n").filter((line) => line.trim());
      expect(errorLines, run.output).toHaveLength(1);
      expect(errorLines[0]).toMatch(c.error);
      expect(after).toEqual(before);
    });
  }
});
