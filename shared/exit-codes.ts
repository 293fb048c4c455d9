/** Exit codes shared by all scripts; the README's table documents them. */
export const ExitCode = {
  ok: 0,
  /** Unexpected failure: kopia or the Kubernetes API failed in a way not listed below. */
  failed: 1,
  /** Bad input: a flag, environment variable or repository URL is missing or invalid. */
  usage: 2,
  /** The snapshot was saved, but some files could not be read; kopia-restore: restored with errors. */
  partial: 3,
  /** The snapshot, maintenance or restore was cancelled (e.g. SIGTERM) and is incomplete. */
  incomplete: 4,
  /** The repository cannot be used: wrong password, unreachable, missing bucket, foreign data. */
  repository: 5,
  /** A pre-backup hook failed; the run was aborted before any backup Job was created. */
  hookFailed: 6,
  /** At least one backup Job (or post-backup hook, or maintenance) failed. */
  jobsFailed: 7,
  /** kopia-restore: no snapshot matches the selection; nothing was written. */
  noSnapshot: 8,
  /** kopia-restore: refused for safety (the target is not empty); nothing was written. */
  refused: 9,
  /** Stopped by SIGINT (128 + 2). */
  sigint: 130,
  /** Stopped by SIGTERM (128 + 15). */
  sigterm: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the script with a one-line message and a documented exit code. */
export class KkError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new KkError(message, ExitCode.usage);
export const repositoryError = (message: string) => new KkError(message, ExitCode.repository);

/** Any failure as a KkError: an unexpected one (not a KkError) is exit 1 with its message. */
export const asKkError = (error: unknown): KkError =>
  error instanceof KkError ? error : new KkError(String(error instanceof Error ? error.message : error), ExitCode.failed);
