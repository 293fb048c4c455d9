import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";
import { Writable } from "node:stream";
import { ExitCode, KkError } from "../exit-codes.ts";
import { log } from "../log.ts";
import { apiErrorMessage } from "./client.ts";
import type { HookPlan } from "./plan.ts";

/**
 * The exit code a pods/exec status reports. A kubelet sends `details.causes[reason=ExitCode]`;
 * kwok (and some runtimes) only say "... exit status N" in the message.
 */
export function exitCodeFromStatus(status: V1Status): number | undefined {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  if (cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message);
  // The message may quote the command itself; the code the runtime appended comes last.
  const match = [...(status.message ?? "").matchAll(/exit (?:status|code):? (\d+)/gi)].at(-1);
  return match ? Number(match[1]) : undefined;
}

/** The runtime could not start the shell at all (kubelet/runc and kwok word it alike). Output of a
 * shell that did start (e.g. "sh: 1: /x.sh: not found") is not this. */
const noShell = (shell: string) => new RegExp(`exec: "${shell.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}": (executable file not found|stat [^:]*: no such file or directory)`, "i");

/** Why a hook failed, in words a user can act on. */
export function describeHookFailure(hook: HookPlan, status: V1Status | undefined, stderrTail: string, shell = "sh"): string {
  const where = `hook in pod ${hook.namespace}/${hook.pod}, container ${hook.container}`;
  const message = status?.message ?? "";
  if (noShell(shell).test(message) || noShell(shell).test(stderrTail)) {
    return `${where}: the image has no shell (${shell}), so the hook cannot run; add a shell to the image or remove the annotation`;
  }
  if (!status) return `${where}: the connection closed before the command reported an exit status`;
  const exitCode = exitCodeFromStatus(status);
  const lastLine = stderrTail.trim().split("\n").at(-1);
  return `${where}: exited with code ${exitCode ?? "unknown"}${lastLine ? ` (${lastLine})` : message ? ` (${message})` : ""}`;
}

/**
 * Dropping the exec connection does not stop the command in the container, so a late freeze could
 * land after the unfreeze. Where the image has `timeout`, the hook runs under it and is stopped at
 * its timeout; where not, the container says so (the marker below) and the run's message says the
 * command may still be running. $0 is the shell, $1 the command, $2 the timeout in seconds.
 */
const NO_TIMEOUT_MARKER = "kopia-k8s: this container has no timeout command";
const UNDER_TIMEOUT = `if command -v timeout >/dev/null 2>&1; then exec timeout "$2" "$0" -c "$1"; fi; echo '${NO_TIMEOUT_MARKER}' >&2; exec "$0" -c "$1"`;
/** The exit code of `timeout` when it stopped the command. */
const TIMED_OUT = 124;
/** How much longer than the hook's own timeout the connection is kept, so that `timeout` reports first. */
const CONNECTION_GRACE_MS = 5_000;

/** Runs `<shell> -c <command>` (sh by default) in the pod through pods/exec, streaming its output into the log. */
export async function runHook(config: KubeConfig, hook: HookPlan, { phase, shell }: { phase: "pre-backup" | "post-backup"; shell: string }): Promise<void> {
  if (hook.problem) throw hookError(`hook in pod ${hook.namespace}/${hook.pod}, container ${hook.container}: ${hook.problem}`);
  if (!hook.containers.includes(hook.container)) {
    throw hookError(`hook in pod ${hook.namespace}/${hook.pod}, container ${hook.container}: the pod has no container '${hook.container}' (it has: ${hook.containers.join(", ")})`);
  }
  const prefix = `[${hook.namespace}/${hook.pod}]`;
  let stderrTail = "";
  let canStop = true;
  const stdout = lineWriter((line) => log.info(`${prefix} ${line}`));
  const stderr = lineWriter((line) => {
    if (line === NO_TIMEOUT_MARKER) {
      canStop = false;
      return;
    }
    stderrTail = `${stderrTail}\n${line}`.slice(-2000);
    log.info(`${prefix} (stderr) ${line}`);
  });
  log.info(`${phase} hook: ${hook.namespace}/${hook.pod} (${hook.container}): ${shell} -c ${JSON.stringify(hook.command)}`);

  let status: V1Status | undefined;
  const where = `hook in pod ${hook.namespace}/${hook.pod}, container ${hook.container}`;
  const timeoutSeconds = Math.max(1, Math.ceil(hook.timeoutMs / 1000));
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket?.close();
      const stillRunning = canStop ? "" : "; the image has no timeout command, so the hook may still be running in the container";
      reject(hookError(`${where}: timed out after ${hook.timeoutMs / 1000}s${stillRunning}`));
    }, hook.timeoutMs + CONNECTION_GRACE_MS);
    let socket: { close(): void; on(event: "close", listener: () => void): void } | undefined;
    new Exec(config)
      .exec(hook.namespace, hook.pod, hook.container, [shell, "-c", UNDER_TIMEOUT, shell, hook.command, String(timeoutSeconds)], stdout, stderr, null, false, (reported) => {
        status = reported;
      })
      .then((ws) => {
        socket = ws;
        ws.on("close", () => {
          clearTimeout(timer);
          resolve();
        });
      })
      .catch((error: unknown) => {
        clearTimeout(timer);
        reject(hookError(`hook in pod ${hook.namespace}/${hook.pod}, container ${hook.container}: cannot exec: ${apiErrorMessage(error)}`));
      });
  });
  await finished;
  stdout.end();
  stderr.end();
  if (status?.status !== "Success" && exitCodeFromStatus(status ?? {}) === TIMED_OUT && canStop) {
    throw hookError(`${where}: timed out after ${hook.timeoutMs / 1000}s and was stopped in the container`);
  }
  if (status?.status !== "Success") throw hookError(describeHookFailure(hook, status, stderrTail, shell));
  log.info(`${phase} hook in ${hook.namespace}/${hook.pod} succeeded`);
}

const hookError = (message: string) => new KkError(message, ExitCode.hookFailed);

function lineWriter(onLine: (line: string) => void): Writable & { end(): void } {
  let pending = "";
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (pending + chunk.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line.replace(/\r$/, ""));
      done();
    },
    final(done) {
      if (pending) onLine(pending);
      pending = "";
      done();
    },
  });
}
