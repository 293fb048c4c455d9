import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

const LOCK_EX = 2;
const LOCK_NB = 4;
const POLL_MS = 100;

interface Libc {
  /** flock(2) without blocking: true when the lock was taken, false when another process holds it. */
  tryLock(fd: number): boolean;
}
let libc: Libc | undefined;

/** libc's flock(2), loaded on first use: only a run that must connect pays for bun:ffi. */
async function loadLibc(): Promise<Libc> {
  if (libc) return libc;
  const { dlopen, FFIType, read } = await import("bun:ffi");
  const darwin = process.platform === "darwin";
  const errnoSymbol = darwin ? "__error" : "__errno_location";
  const { symbols } = dlopen(darwin ? "libSystem.B.dylib" : "libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    [errnoSymbol]: { args: [], returns: FFIType.ptr },
  });
  const wouldBlock = darwin ? 35 : 11;
  libc = {
    tryLock(fd) {
      if (symbols.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
      const errno = read.i32(symbols[errnoSymbol]!() as never, 0);
      if (errno === wouldBlock) return false;
      throw new Error(`flock failed with errno ${errno}`);
    },
  };
  return libc;
}

/**
 * Runs `work` holding an exclusive lock on `file` (created if missing; never removed, so every
 * process locks the same file). The kernel drops the lock when the process dies, so a crash or
 * SIGKILL never leaves it held. Waiting polls, so signals are still handled meanwhile.
 */
export async function withFileLock<T>(file: string, work: () => Promise<T>, onWait?: () => void): Promise<T> {
  const { tryLock } = await loadLibc();
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, "a", 0o600);
  try {
    for (let waited = false; !tryLock(fd); waited = true) {
      if (!waited) onWait?.();
      await Bun.sleep(POLL_MS);
    }
    return await work();
  } finally {
    closeSync(fd); // closing the last descriptor releases the lock
  }
}
