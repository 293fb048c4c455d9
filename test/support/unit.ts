import { afterEach, beforeEach, expect } from "bun:test";
import { KkError } from "../../shared/exit-codes.ts";

/** Runs `run`, asserts it threw a usage error (KkError, exit 2), and returns that error. */
export function usageErrorOf(run: () => unknown): KkError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(KkError);
  expect((caught as KkError).exitCode).toBe(2);
  return caught as KkError;
}

/**
 * For every test of the calling file (or describe block): environment variables whose names match
 * are removed before the test, and the whole environment is restored after it.
 */
export function isolateEnv(cleared: (name: string) => boolean, setUp: () => void = () => {}): void {
  let saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    saved = { ...process.env };
    for (const name of Object.keys(process.env)) if (cleared(name)) delete process.env[name];
    setUp();
  });
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  });
}
