#!/usr/bin/env bun
/** Compiles every script in scripts/ into a single executable dist/<name>. */
import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { $ } from "zx";

const root = join(import.meta.dir, "..", "..");
const scripts = (await readdir(join(root, "scripts"))).filter((file) => file.endsWith(".ts"));
for (const file of scripts) {
  const name = basename(file, ".ts");
  const started = performance.now();
  // --bytecode needs ESM output because the scripts use top-level await. The binaries must not pick
  // up a .env or bunfig.toml from whatever folder they happen to run in.
  await $({ cwd: root, quiet: true })`bun build --compile --minify --sourcemap=none --bytecode --format=esm --no-compile-autoload-dotenv --no-compile-autoload-bunfig ${join("scripts", file)} --outfile ${join("dist", name)}`;
  console.log(`dist/${name} (${Math.round(performance.now() - started)} ms)`);
}
