#!/usr/bin/env bun
// The benchmark's floor: a compiled Bun program that only runs its arguments as a command and
// exits with its code. Whatever a Bun-compiled wrapper of kopia costs, at least this.
const child = Bun.spawn(process.argv.slice(2), { stdout: "pipe", stderr: "pipe" });
Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()])
  .then(() => child.exited)
  .then((exitCode) => process.exit(exitCode));
