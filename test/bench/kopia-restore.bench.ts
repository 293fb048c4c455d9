#!/usr/bin/env bun
/**
 * kopia-restore against raw `kopia snapshot restore` of the same 1 GiB snapshot, in the same run,
 * median of N each (contenders interleaved, who goes first rotating), repository and targets on
 * tmpfs (/dev/shm) when it has room; plus the compiled binary's --help start-up time and peak RSS.
 * A third contender does by hand what kopia-restore does: `kopia snapshot list --json`, then the
 * restore by ID. Each kopia process opens the repository once (key derivation from the password,
 * indexes), so it shows how much of kopia-restore's overhead is that second open.
 * Run: `npm run bench:restore` (after `npm run build`). Targets: ratio ≤ 1.03, --help ≤ 50 ms and ≤ 60 MB.
 * Env: KK_BENCH_RUNS (default 6), KK_BENCH_FILES (default 16384 files of 64 KiB = 1 GiB), KK_BENCH_WORKDIR.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureCorpus, freeGiB, median, timed } from "./bench-support.ts";

const root = join(import.meta.dir, "..", "..");
const runs = Number(process.env.KK_BENCH_RUNS ?? 6);
const fileCount = Number(process.env.KK_BENCH_FILES ?? 16384);
const toolsBin = Bun.spawnSync(["bash", join(root, "test/tools/provision.sh"), "kopia"]).stdout.toString().trim().split("\n").at(-1)!;
const kopiaBinary = join(toolsBin, "kopia");
const kopiaRestore = join(root, "dist/kopia-restore");
const password = "bench-password";

const corpus = await ensureCorpus(fileCount);
const work = await mkdtemp(join(process.env.KK_BENCH_WORKDIR ?? (freeGiB("/dev/shm") >= 4 ? "/dev/shm" : tmpdir()), "kk-bench-restore-"));
const repository = join(work, "repo");



const rawEnv = {
  KOPIA_PASSWORD: password, KOPIA_CONFIG_PATH: join(work, "raw/config"), KOPIA_CACHE_DIRECTORY: join(work, "raw/cache"), KOPIA_LOG_DIR: join(work, "raw/logs"),
  KOPIA_CHECK_FOR_UPDATES: "false", KOPIA_PERSIST_CREDENTIALS_ON_CONNECT: "false",
};
timed([kopiaBinary, "repository", "create", "filesystem", `--path=${repository}`, "--override-hostname=bench", "--override-username=data"], rawEnv);
const snapshotId = JSON.parse(Bun.spawnSync([kopiaBinary, "snapshot", "create", corpus, "--json", "--no-auto-maintenance", "--override-source=data@bench:/data"], { env: { ...process.env, ...rawEnv } }).stdout.toString()).id as string;
Bun.spawnSync(["sync"]);

const contenders = [
  {
    name: "raw kopia snapshot restore",
    commands: (target: string) => [[kopiaBinary, "snapshot", "restore", snapshotId, target]],
    env: rawEnv,
    times: [] as number[],
  },
  {
    name: "raw kopia snapshot list --json, then restore",
    commands: (target: string) => [[kopiaBinary, "snapshot", "list", "--json", "--all"], [kopiaBinary, "snapshot", "restore", snapshotId, target]],
    env: rawEnv,
    times: [] as number[],
  },
  {
    name: "kopia-restore",
    commands: (target: string) => [[kopiaRestore, "--hostname", "bench", "--username", "data", "--target", target, "--repository", `filesystem://${repository}`, "--config-path", join(work, "kk/config"), "--cache-path", join(work, "kk/cache"), "--log-path", join(work, "kk/logs"), "--kopia-path", kopiaBinary]],
    env: { KOPIA_PASSWORD: password },
    times: [] as number[],
  },
];

// One untimed restore each: kopia-restore connects (once, later runs reuse it), caches fill.
for (const contender of contenders) {
  for (const command of contender.commands(join(work, "warm-up"))) timed(command, contender.env);
  await rm(join(work, "warm-up"), { recursive: true, force: true });
}
for (let run = 0; run < runs; run++) {
  const order = contenders.map((_, index) => contenders[(index + run) % contenders.length]!);
  for (const contender of order) {
    const target = join(work, "target");
    Bun.spawnSync(["sync"]);
    contender.times.push(contender.commands(target).reduce((ms, command) => ms + timed(command, contender.env).ms, 0));
    await rm(target, { recursive: true, force: true });
  }
  console.error(`run ${run + 1}/${runs}: ${contenders.map((c) => `${c.name} ${c.times.at(-1)!.toFixed(0)} ms`).join(", ")}`);
}

const [raw, byHand] = contenders;
console.log(`corpus: ${fileCount} files, 1 GiB; snapshot ${snapshotId}; repository and targets in ${work}; median of ${runs}; kopia ${kopiaBinary}`);
console.log("| contender | restore, median (min–max) | ratio to raw restore | ratio to list + restore |\n|---|---|---|---|");
const ratio = (contender: (typeof contenders)[number], baseline: (typeof contenders)[number]) => (median(contender.times) / median(baseline.times)).toFixed(3);
for (const contender of contenders) {
  console.log(`| ${contender.name} | ${median(contender.times).toFixed(0)} ms (${Math.min(...contender.times).toFixed(0)}–${Math.max(...contender.times).toFixed(0)}) | ${ratio(contender, raw!)} | ${ratio(contender, byHand!)} |`);
}
const help = Array.from({ length: 21 }, () => timed([kopiaRestore, "--help"], {}));
console.log("\n| binary | startup (median of 21) | peak RSS |\n|---|---|---|");
console.log(`| dist/kopia-restore --help | ${median(help.map((s) => s.ms)).toFixed(1)} ms | ${(median(help.map((s) => s.maxRssKiB)) / 1024).toFixed(1)} MiB |`);
await rm(work, { recursive: true, force: true });

