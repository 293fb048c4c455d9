import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, rawKopia } from "../support/kopia.ts";
import { repoRoot, tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

beforeAll(() => {
  const build = Bun.spawnSync(["npm", "run", "--silent", "build"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`npm run build failed: ${build.stderr.toString()}`);
});

describe("compiled dist/ binaries", () => {
  test("dist/kopia-backup round trip on a filesystem repository restores identical data; dist/kopia-maintenance runs", async () => {
    const data = join(await tempDir(), "data");
    await makeCorpus(data, { largeFileMiB: 8 });
    const repo = join(await tempDir(), "repo");
    const cwd = await tempDir(); // a folder unlike the repo: the binary must not need the project
    const { env } = await isolatedKopiaEnv();
    const backup = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`, "--hostname", "compiled", "--username", "dist"], env, { compiled: true, cwd });
    expect(backup.exitCode, backup.output).toBe(0);
    const maintenance = await runScript("kopia-maintenance", ["--repository", `filesystem://${repo}`], env, { compiled: true, cwd });
    expect(maintenance.exitCode, maintenance.output).toBe(0);

    const kopia = await rawKopia(["filesystem", "--path", repo]);
    const [snapshot] = await kopia.snapshots(`dist@compiled:${data}`);
    const restored = join(await tempDir(), "restored");
    await kopia.restore(snapshot!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(data));

    const restoredByScript = join(await tempDir(), "restored-by-kopia-restore");
    const restore = await runScript("kopia-restore", ["--hostname", "compiled", "--username", "dist", "--repository", `filesystem://${repo}`, "--target", restoredByScript], env, { compiled: true, cwd });
    expect(restore.exitCode, restore.output).toBe(0);
    expect(await describeTree(restoredByScript)).toEqual(await describeTree(data));
  });

  test("the kopia scripts never load @kubernetes/client-node (bun build --metafile); operator-backup does", async () => {
    const inputsOf = async (script: string) => {
      const out = await tempDir();
      const build = Bun.spawnSync(["bun", "build", join("scripts", `${script}.ts`), "--target=bun", "--outdir", out, `--metafile=${join(out, "meta.json")}`], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
      if (build.exitCode !== 0) throw new Error(build.stderr.toString());
      return Object.keys(JSON.parse(await Bun.file(join(out, "meta.json")).text()).inputs as Record<string, unknown>);
    };
    for (const script of ["kopia-backup", "kopia-maintenance", "kopia-restore"]) {
      const inputs = await inputsOf(script);
      expect(inputs.some((input) => input.includes("shared/")), script).toBe(true);
      expect(inputs.filter((input) => input.includes("@kubernetes/client-node")), script).toEqual([]);
    }
    expect((await inputsOf("operator-backup")).some((input) => input.includes("@kubernetes/client-node"))).toBe(true);
  });

  test("each binary answers --help and a bad flag with exit 2", async () => {
    for (const name of ["kopia-backup", "kopia-maintenance", "kopia-restore"] as const) {
      const help = await runScript(name, ["--help"], {}, { compiled: true });
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toContain("--repository <url>");
      const bad = await runScript(name, ["--no-such-flag"], {}, { compiled: true });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain("Unknown option");
    }
  });
});
