import { statfsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The benches' corpus: `files` files of random bytes, 1 GiB in all, in folders of 256, made once
 * and kept in the cache folder (a marker file says it is complete).
 */
export async function ensureCorpus(files: number): Promise<string> {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kopia-k8s", `bench-corpus-${files}`);
  const fileKiB = (1024 * 1024) / files;
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

/** Wall time of one command, in ms, plus its peak RSS in KiB (from the kernel's rusage). */
export function timed(cmd: string[], env: Record<string, string>): { ms: number; maxRssKiB: number } {
  const started = performance.now();
  const child = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - started;
  if (child.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${child.stderr.toString()}`);
  return { ms, maxRssKiB: Math.round(Number(child.resourceUsage?.maxRSS ?? 0) / 1024) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Free space of a file system in GiB; 0 when it cannot be asked. */
export function freeGiB(path: string): number {
  try {
    const stats = statfsSync(path);
    return (stats.bavail * stats.bsize) / 2 ** 30;
  } catch {
    return 0;
  }
}
