import { open } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "./processes.ts";

/**
 * Makes linux/arm64 runnable here (provision.sh arm64: kopia for arm64, and qemu registered with
 * binfmt_misc) and cross-compiles the scripts into dist/linux-arm64/. Returns the arm64 kopia.
 */
export function prepareArm64(): { kopia: string } {
  const provision = Bun.spawnSync(["bash", join(repoRoot, "test", "tools", "provision.sh"), "arm64"], { stdout: "pipe", stderr: "inherit" });
  if (provision.exitCode !== 0) throw new Error(`provision.sh arm64 failed with exit ${provision.exitCode}`);
  const bin = provision.stdout.toString().trim().split("\n").at(-1)!;
  const build = Bun.spawnSync(["npm", "run", "--silent", "build", "--", "--platform", "linux/arm64"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`npm run build -- --platform linux/arm64 failed: ${build.stderr.toString()}`);
  return { kopia: join(bin, "kopia-linux-arm64") };
}

const machines: Record<number, string> = { 62: "x86-64", 183: "aarch64" };

/** The machine an ELF executable is built for (its header's e_machine), e.g. "aarch64". */
export async function elfMachine(path: string): Promise<string> {
  const file = await open(path);
  try {
    const header = Buffer.alloc(20);
    await file.read(header, 0, 20, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46) return "not ELF";
    const machine = header.readUInt16LE(18);
    return machines[machine] ?? `e_machine ${machine}`;
  } finally {
    await file.close();
  }
}
