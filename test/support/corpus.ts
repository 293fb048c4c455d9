import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readdir, readlink, symlink, utimes, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * A tree that exercises what a backup must keep: nested folders, empty files, a large file,
 * symlinks (file, folder, dangling), names with spaces and non-ASCII, varied modes and mtimes.
 */
export async function makeCorpus(root: string, options: { largeFileMiB?: number } = {}): Promise<void> {
  const largeFileMiB = options.largeFileMiB ?? 100;
  await mkdir(join(root, "nested/deeper/deepest"), { recursive: true });
  await mkdir(join(root, "with space/ünïcødé 文件夹"), { recursive: true });
  await mkdir(join(root, "empty folder"), { recursive: true });
  await writeFile(join(root, "empty.txt"), "");
  await writeFile(join(root, "nested/deeper/deepest/leaf.txt"), "leaf\n");
  await writeFile(join(root, "with space/ünïcødé 文件夹/日本語 ファイル.txt"), "こんにちは\n");
  await writeFile(join(root, "with space/file with spaces.md"), "# spaced\n");
  for (let index = 0; index < 50; index++) {
    await writeFile(join(root, "nested", `small-${index}.bin`), randomBytes(1 + index * 997));
  }
  const large = Bun.file(join(root, "large.bin")).writer();
  for (let mib = 0; mib < largeFileMiB; mib++) large.write(randomBytes(1024 * 1024));
  await large.end();
  await writeFile(join(root, "script.sh"), "#!/bin/sh\necho hi\n");
  await chmod(join(root, "script.sh"), 0o755);
  await writeFile(join(root, "private.key"), "not really\n");
  await chmod(join(root, "private.key"), 0o600);
  await writeFile(join(root, "readonly.txt"), "read only\n");
  await chmod(join(root, "readonly.txt"), 0o444);
  await symlink("nested/deeper/deepest/leaf.txt", join(root, "link-to-leaf"));
  await symlink("nested", join(root, "link-to-folder"));
  await symlink("does-not-exist", join(root, "dangling-link"));
  await utimes(join(root, "nested/deeper/deepest/leaf.txt"), new Date("2001-02-03T04:05:06Z"), new Date("2001-02-03T04:05:06Z"));
  await utimes(join(root, "empty.txt"), new Date("1999-12-31T23:59:59Z"), new Date("1999-12-31T23:59:59Z"));
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  return bytes;
}

/** One line per entry: path, type, permission bits, mtime (s), size and content hash or link target. */
export async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const info = await lstat(path);
      const mode = (info.mode & 0o7777).toString(8);
      const rel = relative(root, path);
      if (info.isSymbolicLink()) lines.push(`${rel} link -> ${await readlink(path)}`);
      else if (info.isDirectory()) {
        lines.push(`${rel} dir ${mode}`);
        await walk(path);
      } else {
        const hash = createHash("sha256").update(await Bun.file(path).bytes()).digest("hex");
        lines.push(`${rel} file ${mode} ${Math.floor(info.mtimeMs / 1000)} ${info.size} ${hash}`);
      }
    }
  };
  await walk(root);
  return lines;
}

/** Every file under a folder with size and mtime: shows whether a repository was touched. */
export async function fingerprintFolder(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string) => {
    for (const name of (await readdir(dir).catch(() => [])).sort()) {
      const path = join(dir, name);
      const info = await lstat(path);
      if (info.isDirectory()) await walk(path);
      else lines.push(`${relative(root, path)} ${info.size} ${info.mtimeMs}`);
    }
  };
  await walk(root);
  return lines;
}

/** Many incompressible files (40 of 16 MiB by default): enough to keep kopia busy until a signal arrives. */
export async function makeBusyCorpus(root: string, { files = 40, mib = 16 }: { files?: number; mib?: number } = {}): Promise<void> {
  await mkdir(root, { recursive: true });
  for (let index = 0; index < files; index++) {
    const writer = Bun.file(join(root, `chunk-${index}.bin`)).writer();
    for (let written = 0; written < mib; written++) writer.write(crypto.getRandomValues(new Uint8Array(1024 * 1024)));
    await writer.end();
  }
}
