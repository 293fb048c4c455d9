/** Exit codes shared by all three scripts; the README's table documents them. */
export const ExitCode = {
  ok: 0,
  /** Unexpected failure: kopia or the Kubernetes API failed in a way not listed below. */
  failed: 1,
  /** Bad input: a flag, environment variable or repository URL is missing or invalid. */
  usage: 2,
  /** The snapshot was saved, but some files could not be read. */
  partial: 3,
  /** The snapshot or maintenance was cancelled (e.g. SIGTERM) and is incomplete. */
  incomplete: 4,
  /** The repository cannot be used: wrong password, unreachable, missing bucket, foreign data. */
  repository: 5,
  /** A pre-backup hook failed; the run was aborted before any backup Job was created. */
  hookFailed: 6,
  /** At least one backup Job (or post-backup hook, or maintenance) failed. */
  jobsFailed: 7,
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
