#!/usr/bin/env bun
/**
 * kopia-backup against raw `kopia snapshot create` on the same ≥ 1 GiB corpus, first and
 * incremental runs, median of N (default 5), as ratios measured in this one run; plus startup time
 * and peak RSS of each compiled binary's --help. Run: `npm run bench` (after `npm run build`).
 * Env: KK_BENCH_RUNS (default 5), KK_BENCH_FILES (default 16384 files of 64 KiB = 1 GiB).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const runs = Number(process.env.KK_BENCH_RUNS ?? 5);
const fileCount = Number(process.env.KK_BENCH_FILES ?? 16384);
const fileKiB = 1024 * 1024 / fileCount; // 1 GiB in all
const toolsBin = Bun.spawnSync(["bash", join(root, "test/tools/provision.sh"), "kopia"]).stdout.toString().trim().split("\n").at(-1)!;
const kopiaBinary = join(toolsBin, "kopia");
const password = "bench-password";

const corpus = await ensureCorpus(join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kopia-k8s", `bench-corpus-${fileCount}`), fileCount);
const work = await mkdtemp(join(tmpdir(), "kk-bench-"));
// Flush a freshly written corpus and read it once, so neither side pays for writeback or cold cache.
Bun.spawnSync(["sync"]);
Bun.spawnSync(["sh", "-c", `find '${corpus}' -type f -exec cat {} + > /dev/null`]);

/** Wall time of one command, in ms, plus its peak RSS in KiB (from the kernel's rusage). */
function timed(cmd: string[], env: Record<string, string>): { ms: number; maxRssKiB: number } {
  const started = performance.now();
  const child = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - started;
  if (child.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${child.stderr.toString()}`);
  return { ms, maxRssKiB: Math.round(Number(child.resourceUsage?.maxRSS ?? 0) / 1024) };
}

/** Flush the repository just written, so the next measurement starts from a quiet disk. */
const settle = () => Bun.spawnSync(["sync"]);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const results = { rawFirst: [] as number[], rawIncremental: [] as number[], kkFirst: [] as number[], kkIncremental: [] as number[] };
for (let run = 0; run < runs; run++) {
  // Raw kopia: create + snapshot (first), snapshot again (incremental), same flags kopia-backup uses.
  const rawDir = join(work, `raw-${run}`);
  const rawEnv = { KOPIA_PASSWORD: password, KOPIA_CONFIG_PATH: join(rawDir, "config"), KOPIA_CACHE_DIRECTORY: join(rawDir, "cache"), KOPIA_LOG_DIR: join(rawDir, "logs"), KOPIA_CHECK_FOR_UPDATES: "false", KOPIA_PERSIST_CREDENTIALS_ON_CONNECT: "false" };
  const snapshot = [kopiaBinary, "snapshot", "create", corpus, "--json", "--progress", "--no-auto-maintenance"];
  const raw = () => {
    const create = timed([kopiaBinary, "repository", "create", "filesystem", "--path", join(rawDir, "repo"), "--override-hostname", "bench", "--override-username", "raw"], rawEnv).ms;
    results.rawFirst.push(create + timed(snapshot, rawEnv).ms);
    settle();
    results.rawIncremental.push(timed(snapshot, rawEnv).ms);
    settle();
  };

  // kopia-backup (compiled): the same two runs, connect-or-create included.
  const kkDir = join(work, `kk-${run}`);
  const kkCommand = [join(root, "dist/kopia-backup"), "--path", corpus, "--repository", `filesystem://${join(kkDir, "repo")}`, "--hostname", "bench", "--username", "kk", "--config-path", join(kkDir, "config"), "--cache-path", join(kkDir, "cache"), "--log-path", join(kkDir, "logs"), "--kopia-path", kopiaBinary];
  const kk = () => {
    results.kkFirst.push(timed(kkCommand, { KOPIA_PASSWORD: password }).ms);
    settle();
    results.kkIncremental.push(timed(kkCommand, { KOPIA_PASSWORD: password }).ms);
    settle();
  };
  // Alternate who goes first, so neither side systematically inherits the other's disk writeback.
  if (run % 2 === 0) (raw(), kk());
  else (kk(), raw());
  await rm(rawDir, { recursive: true, force: true });
  await rm(kkDir, { recursive: true, force: true });
  console.error(`run ${run + 1}/${runs} done`);
}

const helpRows = ["kopia-backup", "kopia-maintenance", "operator-backup"]
  .filter((name) => Bun.file(join(root, "dist", name)).size > 0)
  .map((name) => {
    const samples = Array.from({ length: 21 }, () => timed([join(root, "dist", name), "--help"], {}));
    return `| dist/${name} --help | ${median(samples.map((s) => s.ms)).toFixed(1)} ms | ${(median(samples.map((s) => s.maxRssKiB)) / 1024).toFixed(1)} MiB |`;
  });

const row = (label: string, raw: number[], kk: number[]) =>
  `| ${label} | ${median(raw).toFixed(0)} ms | ${median(kk).toFixed(0)} ms | ${(median(kk) / median(raw)).toFixed(3)} |`;
console.log(`corpus: ${fileCount} files, ${((fileCount * fileKiB) / 1024 / 1024).toFixed(2)} GiB, median of ${runs} runs, kopia ${kopiaBinary}`);
console.log("| run | raw kopia | kopia-backup | ratio |\n|---|---|---|---|");
console.log(row("first (create + snapshot)", results.rawFirst, results.kkFirst));
console.log(row("incremental (no change)", results.rawIncremental, results.kkIncremental));
console.log("\n| binary | startup (median of 21) | peak RSS |\n|---|---|---|");
console.log(helpRows.join("\n"));
await rm(work, { recursive: true, force: true });

async function ensureCorpus(dir: string, files: number): Promise<string> {
  const marker = join(dir, "..", `bench-corpus-${files}.complete`);
  const randomBytes = (size: number) => {
    const bytes = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
    return bytes;
  };
  if (await Bun.file(marker).exists()) return dir;
  await rm(dir, { recursive: true, force: true });
  for (let index = 0; index < files; index++) {
    const folder = join(dir, `d${Math.floor(index / 256)}`);
    if (index % 256 === 0) await mkdir(folder, { recursive: true });
    await Bun.write(join(folder, `f${index}.bin`), randomBytes(fileKiB * 1024));
  }
  await Bun.write(marker, "");
  return dir;
}
