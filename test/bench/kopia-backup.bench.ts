#!/usr/bin/env bun
/**
 * kopia-backup against raw `kopia snapshot create` on the same ≥ 1 GiB corpus, first and
 * incremental runs, median of N, as ratios measured in this one run; plus startup time and peak
 * RSS of each compiled binary's --help. Run: `npm run bench` (after `npm run build`).
 * A third contender, spawn-only (test/bench/spawn-only.ts compiled like the scripts), runs the same
 * kopia command and nothing else: the floor any compiled Bun wrapper pays.
 * Repositories go to tmpfs (/dev/shm) when it has room, so disk writeback does not drown the
 * wrapper's cost in noise; the corpus is read once beforehand so every run reads from the page cache.
 * Env: KK_BENCH_RUNS (default 6: every contender goes first equally often), KK_BENCH_INCREMENTAL_ROUNDS
 * (incrementals per contender and run, default 5), KK_BENCH_FILES
 * (default 16384 files of 64 KiB = 1 GiB), KK_BENCH_WORKDIR (where repositories go), KK_BENCH_COMPARE
 * (path of another kopia-backup build to measure alongside).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { ensureCorpus, freeGiB, median, timed } from "./bench-support.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const runs = Number(process.env.KK_BENCH_RUNS ?? 6);
const incrementalRounds = Number(process.env.KK_BENCH_INCREMENTAL_ROUNDS ?? 5);
const fileCount = Number(process.env.KK_BENCH_FILES ?? 16384);
const fileKiB = 1024 * 1024 / fileCount; // 1 GiB in all
const toolsBin = Bun.spawnSync(["bash", join(root, "test/tools/provision.sh"), "kopia"]).stdout.toString().trim().split("\n").at(-1)!;
const kopiaBinary = join(toolsBin, "kopia");
const password = "bench-password";

const corpus = await ensureCorpus(fileCount);
const work = await mkdtemp(join(process.env.KK_BENCH_WORKDIR ?? (freeGiB("/dev/shm") >= 4 ? "/dev/shm" : tmpdir()), "kk-bench-"));
// Flush a freshly written corpus and read it once, so no contender pays for writeback or cold cache.
Bun.spawnSync(["sync"]);
Bun.spawnSync(["sh", "-c", `find '${corpus}' -type f -exec cat {} + > /dev/null`]);

const spawnOnly = join(work, "spawn-only");
Bun.spawnSync(["bun", "build", "--compile", "--minify", "--bytecode", "--format=esm", join(import.meta.dir, "spawn-only.ts"), "--outfile", spawnOnly], { stdout: "ignore" });


/** Flush what the last command wrote, so the next measurement starts from a quiet system. */
const settle = () => Bun.spawnSync(["sync"]);


interface Contender {
  name: string;
  /** Creates the repository and takes the first snapshot; returns the wall time (undefined: not measured). */
  first(dir: string): number | undefined;
  incremental(dir: string): number;
  firstTimes: number[];
  incrementalTimes: number[];
}

const kopiaEnv = (dir: string) => ({
  KOPIA_PASSWORD: password, KOPIA_CONFIG_PATH: join(dir, "config"), KOPIA_CACHE_DIRECTORY: join(dir, "cache"), KOPIA_LOG_DIR: join(dir, "logs"),
  KOPIA_CHECK_FOR_UPDATES: "false", KOPIA_PERSIST_CREDENTIALS_ON_CONNECT: "false",
});
const createRepository = (dir: string) => [kopiaBinary, "repository", "create", "filesystem", "--path", join(dir, "repo"), "--override-hostname", "bench", "--override-username", "raw"];
// The snapshot command kopia-backup itself runs.
const snapshot = [kopiaBinary, "snapshot", "create", corpus, "--json", "--progress", "--no-auto-maintenance"];
const kopiaBackup = (dir: string, binary = join(root, "dist/kopia-backup")) => [binary, "--path", corpus, "--repository", `filesystem://${join(dir, "repo")}`, "--hostname", "bench", "--username", "kk", "--config-path", join(dir, "config"), "--cache-path", join(dir, "cache"), "--log-path", join(dir, "logs"), "--kopia-path", kopiaBinary];

const contenders: Contender[] = [
  {
    name: "raw kopia",
    first: (dir) => timed(createRepository(dir), kopiaEnv(dir)).ms + timed(snapshot, kopiaEnv(dir)).ms,
    incremental: (dir) => timed(snapshot, kopiaEnv(dir)).ms,
    firstTimes: [], incrementalTimes: [],
  },
  {
    name: "spawn-only (floor)",
    first: (dir) => (timed(createRepository(dir), kopiaEnv(dir)), timed(snapshot, kopiaEnv(dir)), undefined),
    incremental: (dir) => timed([spawnOnly, ...snapshot], kopiaEnv(dir)).ms,
    firstTimes: [], incrementalTimes: [],
  },
  {
    name: "kopia-backup",
    first: (dir) => timed(kopiaBackup(dir), { KOPIA_PASSWORD: password }).ms,
    incremental: (dir) => timed(kopiaBackup(dir), { KOPIA_PASSWORD: password }).ms,
    firstTimes: [], incrementalTimes: [],
  },
];
// A/B: another build of kopia-backup, measured the same way (e.g. a branch's dist/kopia-backup copied aside).
const compared = process.env.KK_BENCH_COMPARE;
if (compared) {
  contenders.push({
    name: `kopia-backup (${compared})`,
    first: (dir) => timed(kopiaBackup(dir, compared), { KOPIA_PASSWORD: password }).ms,
    incremental: (dir) => timed(kopiaBackup(dir, compared), { KOPIA_PASSWORD: password }).ms,
    firstTimes: [], incrementalTimes: [],
  });
}

for (let run = 0; run < runs; run++) {
  // Rotate who goes first, so no contender systematically inherits another's leftovers.
  const order = contenders.map((_, index) => contenders[(index + run) % contenders.length]!);
  const dirOf = (contender: Contender) => join(work, `${run}-${contenders.indexOf(contender)}`);
  for (const contender of order) {
    const first = contender.first(dirOf(contender));
    if (first !== undefined) contender.firstTimes.push(first);
    settle();
  }
  // Incrementals are short and the noise of a 2-core machine is not: interleave several rounds,
  // so whatever else the machine does falls on every contender alike.
  for (let round = 0; round < incrementalRounds; round++) {
    for (const contender of order) contender.incrementalTimes.push(contender.incremental(dirOf(contender)));
  }
  for (const contender of order) await rm(dirOf(contender), { recursive: true, force: true });
  console.error(`run ${run + 1}/${runs}: ${contenders.map((c) => `${c.name} ${c.firstTimes.at(-1)?.toFixed(0) ?? "-"} + ${median(c.incrementalTimes.slice(-incrementalRounds)).toFixed(0)} ms`).join(", ")}`);
}

const helpRows = ["kopia-backup", "kopia-maintenance", "operator-backup"]
  .filter((name) => Bun.file(join(root, "dist", name)).size > 0)
  .map((name) => {
    const samples = Array.from({ length: 21 }, () => timed([join(root, "dist", name), "--help"], {}));
    return `| dist/${name} --help | ${median(samples.map((s) => s.ms)).toFixed(1)} ms | ${(median(samples.map((s) => s.maxRssKiB)) / 1024).toFixed(1)} MiB |`;
  });

const spread = (values: number[]) => (values.length ? `${median(values).toFixed(0)} ms (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})` : "-");
const ratio = (values: number[], baseline: number[]) => (values.length ? (median(values) / median(baseline)).toFixed(3) : "-");
const [raw] = contenders;
console.log(`corpus: ${fileCount} files, ${((fileCount * fileKiB) / 1024 / 1024).toFixed(2)} GiB; repositories in ${work}; first runs: median of ${runs}, incrementals: median of ${runs * incrementalRounds}; kopia ${kopiaBinary}`);
console.log("| contender | first (create + snapshot), median (min–max) | ratio | incremental (no change), median (min–max) | ratio |\n|---|---|---|---|---|");
for (const contender of contenders) {
  console.log(`| ${contender.name} | ${spread(contender.firstTimes)} | ${ratio(contender.firstTimes, raw!.firstTimes)} | ${spread(contender.incrementalTimes)} | ${ratio(contender.incrementalTimes, raw!.incrementalTimes)} |`);
}
console.log("\n| binary | startup (median of 21) | peak RSS |\n|---|---|---|");
console.log(helpRows.join("\n"));
await rm(work, { recursive: true, force: true });

