/**
 * kopia-restore's bad input, run through the real script: each case is one error line on stderr
 * naming the option and the fix, nothing on stdout, exit 2, and no kopia started (the repository
 * named does not even exist).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { isolatedKopiaEnv } from "../../support/kopia.ts";
import { tempDir } from "../../support/processes.ts";
import { runScript } from "../../support/scripts.ts";

const source = ["--namespace", "apps", "--pvc", "data"];
const target = ["--target", "/tmp/kk-never-written"];

const cases: { name: string; args: string[]; env?: Record<string, string | undefined>; error: RegExp }[] = [
  { name: "--as-of without a zone", args: [...source, ...target, "--as-of", "2026-05-01T03:00:00"], error: /--as-of: '2026-05-01T03:00:00' is not a time with a zone; add a zone/ },
  { name: "--as-of a date only", args: [...source, ...target, "--as-of", "2026-05-01"], error: /--as-of: '2026-05-01' is not a time with a zone; give a time and a zone too, e.g. 2026-05-01T23:59:59Z/ },
  { name: "--as-of an impossible date", args: [...source, ...target, "--as-of", "2026-02-30T03:00:00Z"], error: /--as-of: '2026-02-30T03:00:00Z' is not a time with a zone; use RFC 3339/ },
  { name: "--offset negative", args: [...source, ...target, "--offset", "-1"], error: /--offset: '-1' is not a whole number; 0 is the newest snapshot/ },
  { name: "--offset not a number", args: [...source, ...target, "--offset", "last"], error: /--offset: 'last' is not a whole number/ },
  { name: "--snapshot not an ID", args: [...source, ...target, "--snapshot", "k2753d6c2/etc"], error: /--snapshot: 'k2753d6c2\/etc' is not a snapshot ID; give the ID \(or its start\) as --list shows it/ },
  { name: "--snapshot with --as-of", args: [...target, "--snapshot", "2753d6c2", "--as-of", "2026-05-01T03:00:00Z"], error: /--snapshot names one snapshot; drop --as-of and --offset, or drop --snapshot/ },
  { name: "--delete-extra without --overwrite", args: [...source, ...target, "--delete-extra"], error: /--delete-extra: deletes files, so it needs --overwrite too/ },
  { name: "no --target", args: [...source], error: /--target: where to restore\? give a folder that is empty or does not exist yet/ },
  { name: "--target - without --subpath", args: [...source, "--target", "-"], error: /--target -: stdout takes one file; add --subpath/ },
  { name: "--target - with --overwrite", args: [...source, "--target", "-", "--subpath", "a.txt", "--overwrite"], error: /--target -: stdout is never overwritten/ },
  { name: "--subpath leaving the snapshot", args: [...source, ...target, "--subpath", "../etc/passwd"], error: /--subpath: '..\/etc\/passwd' must be a path inside the snapshot without '.' or '..'/ },
  { name: "--namespace without --pvc", args: ["--namespace", "apps", ...target], error: /which snapshot\? give --namespace and --pvc \(or --hostname and --username\), or --snapshot <id>/ },
  { name: "--namespace with --hostname", args: [...source, "--hostname", "apps", ...target], error: /--namespace\/--pvc name the same thing as --hostname\/--username; give one pair/ },
  { name: "--pvc not a PVC name", args: ["--namespace", "apps", "--pvc", "Data_1", ...target], error: /--pvc: 'Data_1' is not a PVC name/ },
  { name: "--namespace not a namespace name", args: ["--namespace", "Apps.prod", "--pvc", "data", ...target], error: /--namespace: 'Apps.prod' is not a namespace name/ },
  { name: "--cluster-name without --namespace", args: ["--hostname", "h", "--username", "u", "--cluster-name", "c", ...target], error: /--cluster-name: only with --namespace/ },
  { name: "--list without a source", args: ["--list"], error: /--list: which source\? give --namespace and\/or --pvc \(or --hostname\/--username\), or --all/ },
  { name: "--all without --list", args: ["--all"], error: /--all: only lists; add --list/ },
  { name: "--json without --list", args: [...source, ...target, "--json"], error: /--json: only for --list; add --list/ },
  { name: "--list with --target", args: ["--list", "--all", ...target], error: /--list: only lists; drop --target/ },
  { name: "--list --all with a source", args: ["--list", "--all", "--namespace", "apps"], error: /--all: lists every source; drop --namespace/ },
  { name: "--parallel 0", args: [...source, ...target, "--parallel", "0"], error: /--parallel: must be at least 1/ },
  { name: "--source-path relative", args: [...source, ...target, "--source-path", "data"], error: /--source-path: 'data' must be an absolute path, e.g. \/data/ },
  { name: "--summary-file relative", args: [...source, ...target, "--summary-file", "summary.json"], error: /--summary-file: 'summary.json' must be an absolute path/ },
  { name: "a boolean env that is not one", args: [...source, ...target], env: { KK_RESTORE_OVERWRITE: "maybe" }, error: /KK_RESTORE_OVERWRITE: 'maybe' is not a boolean; use true or false/ },
  { name: "an unknown flag", args: [...source, "--targte", "/tmp/x"], error: /Unknown option `--targte`; see kopia-restore --help/ },
  { name: "no password", args: [...source, ...target], env: { KOPIA_PASSWORD: undefined }, error: /password: none given; set KOPIA_PASSWORD \(or KK_ENCRYPTION_PASSWORD\) in the environment, never on the command line/ },
  { name: "no repository", args: [...source, ...target], env: { KK_REPOSITORY: undefined }, error: /--repository: no repository given; set --repository or KK_REPOSITORY/ },
];

describe("kopia-restore bad input: one line, exit 2, nothing started", () => {
  test(`${cases.length} cases`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    const repo = join(await tempDir(), "no-repository-here");
    const { env } = await isolatedKopiaEnv({ KK_REPOSITORY: `filesystem://${repo}`, KK_KOPIA_PATH: "/nonexistent/kopia-must-not-run" });
    const runs = await Promise.all(cases.map((c) => runScript("kopia-restore", c.args, { ...env, ...c.env })));
    cases.forEach((c, index) => {
      const run = runs[index]!;
      const context = `${c.name}: ${run.output}`;
      expect(run.exitCode, context).toBe(2);
      expect(run.stdout, context).toBe("");
      const lines = run.stderr.split("\n").filter((line) => line.trim());
      expect(lines, context).toHaveLength(1);
      expect(lines[0], context).toMatch(c.error);
    });
  });
});
