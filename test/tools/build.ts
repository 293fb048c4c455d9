#!/usr/bin/env bun
/**
 * Compiles every script in scripts/ into a single executable: dist/<name> for this machine, or, with
 * `--platform linux/arm64` (comma-separated or repeated; linux/amd64 and linux/arm64), cross-compiled
 * into dist/<os>-<arch>/<name>. Bun fetches another platform's runtime from the npm registry once.
 */
import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { $ } from "zx";

const bunTargets: Record<string, string> = { "linux/amd64": "bun-linux-x64", "linux/arm64": "bun-linux-arm64" };

function requestedPlatforms(argv: string[]): string[] {
  const platforms: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2);
    if (flag !== "--platform") fail(`unknown argument '${argv[i]}' (use --platform linux/amd64,linux/arm64)`);
    const value = inline ?? argv[++i];
    if (!value) fail("--platform needs a value, e.g. --platform linux/arm64");
    platforms.push(...value.split(",").filter(Boolean));
  }
  for (const platform of platforms) {
    if (!(platform in bunTargets)) fail(`--platform: '${platform}' is not supported (use ${Object.keys(bunTargets).join(" or ")})`);
  }
  return platforms;
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(2);
}

const root = join(import.meta.dir, "..", "..");
const platforms = requestedPlatforms(process.argv.slice(2));
// No --platform: this machine's binaries in dist/, where the tests and the README's commands find them.
const outputs = platforms.length === 0 ? [{ dir: "dist", target: [] as string[] }] : platforms.map((platform) => ({ dir: join("dist", platform.replace("/", "-")), target: [`--target=${bunTargets[platform]}`] }));
const scripts = (await readdir(join(root, "scripts"))).filter((file) => file.endsWith(".ts"));
for (const { dir, target } of outputs) {
  for (const file of scripts) {
    const name = basename(file, ".ts");
    const started = performance.now();
    // --bytecode needs ESM output because the scripts use top-level await. The binaries must not pick
    // up a .env or bunfig.toml from whatever folder they happen to run in.
    await $({ cwd: root, quiet: true })`bun build --compile ${target} --minify --sourcemap=none --bytecode --format=esm --no-compile-autoload-dotenv --no-compile-autoload-bunfig ${join("scripts", file)} --outfile ${join(dir, name)}`;
    console.log(`${join(dir, name)} (${Math.round(performance.now() - started)} ms)`);
  }
}
