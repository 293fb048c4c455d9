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
