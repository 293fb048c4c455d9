import { spinner } from "zx";

/**
 * zx's spinner while `work` runs, on a terminal only: in a pod, under cron or in CI its frames
 * would land in the log as text.
 */
export function withSpinner<T>(title: string, work: () => Promise<T>): Promise<T> {
  return process.stderr.isTTY ? (spinner(title, work) as Promise<T>) : work();
}
