// consola/core: the logger without the fancy/basic reporters, whose dependencies cost ~10 ms of
// start-up in every run; the two reporters kopia-k8s needs are small and below.
import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola/core";
import { fstatSync, writeSync } from "node:fs";
import { usageError } from "./exit-codes.ts";

export type LogFormat = "text" | "json";

/** Environment variables whose values must never reach a log line, at any level. */
export const SECRET_ENV_VARS = [
  "KOPIA_PASSWORD",
  "KK_ENCRYPTION_PASSWORD",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "B2_KEY",
  "AZURE_STORAGE_KEY",
  "AZURE_STORAGE_SAS_TOKEN",
  "KOPIA_WEBDAV_PASSWORD",
  "KOPIA_SERVER_PASSWORD",
] as const;

const secrets = new Set<string>();

/** Registers a value to be masked in every log line (defence in depth: nothing should log it anyway). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.replaceAll(secret, "***");
  return out;
}

/** Every string inside a value redacted: done before encoding, since encoding escapes a secret's `"` or `\`. */
function redactDeep(value: unknown): unknown {
  if (secrets.size === 0) return value;
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item)]));
  return value;
}

export function parseLogFormat(value: string | undefined): LogFormat {
  const normalized = (value ?? "text").toLowerCase();
  if (normalized === "text" || normalized === "console") return "text";
  if (normalized === "json") return "json";
  throw usageError(`--log-format: '${value}' is not a log format; use text or json (KK_LOG_FORMAT)`);
}

const jsonReporter = (fd: number): ConsolaReporter => ({
  log(logObj: LogObject) {
    const [first, ...rest] = logObj.args.map(redactDeep);
    const fields = rest.length === 1 && isPlainObject(rest[0]) ? rest[0] : undefined;
    const message = redact(fields ? String(first) : formatArgs([first, ...rest]));
    const line = JSON.stringify({
      time: logObj.date.toISOString(),
      level: logObj.type === "log" ? "info" : logObj.type,
      msg: message,
      ...fields,
    });
    writeLine(fd, line);
  },
});

/** Log arguments as one string: strings as they are, anything else inspected (like console.log). */
const formatArgs = (args: unknown[]) => args.map((arg) => (typeof arg === "string" ? arg : Bun.inspect(arg))).join(" ");

/**
 * Whether fd is a terminal. Pipes and files (cron, pods, CI) are told apart by fstat alone;
 * node:tty, which costs ~3 ms to load, is asked only about character devices.
 */
function isTerminal(fd: number): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return (require("node:tty") as typeof import("node:tty")).isatty(fd);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

const LEVEL_COLORS: Record<string, string> = { error: "31", fatal: "31", warn: "33", success: "32", info: "36", debug: "90", trace: "90" };

/**
 * Readable lines: `time level message`, coloured on a terminal. Structured fields (a trailing
 * plain object) are for JSON logs only. warn and error go to stderr, the rest to stdout.
 * On a terminal the time is local `HH:MM:SS`; elsewhere (cron mail, pod logs, files) it is UTC
 * RFC 3339, which also spares a non-interactive run the ~5 ms of loading the local time zone.
 */
function textReporter(terminal: boolean, infoFd: number): ConsolaReporter {
  const colors = terminal && !process.env.NO_COLOR;
  return {
    log(logObj) {
      const all = logObj.args.map(redactDeep);
      const args = all.length > 1 && isPlainObject(all.at(-1)) ? all.slice(0, -1) : all;
      const level = logObj.type === "log" ? "info" : logObj.type;
      const label = colors ? `\x1b[${LEVEL_COLORS[level] ?? "0"}m${level.padEnd(7)}\x1b[0m` : level.padEnd(7);
      const time = terminal ? logObj.date.toTimeString().slice(0, 8) : `${logObj.date.toISOString().slice(0, 19)}Z`;
      writeLine(logObj.level <= 1 ? STDERR : infoFd, `${time} ${label} ${redact(formatArgs(args))}`);
    },
  };
}

const STDOUT = 1;
const STDERR = 2;

/**
 * Writes one whole line straight to a file descriptor. Synchronous, so lines keep their order
 * and none is lost at exit, and it skips initialising Node's stdio streams (~6 ms per start).
 * A reader that went away (EPIPE) costs the line, never the backup.
 */
export function writeLine(fd: number, line: string): void {
  let bytes = Buffer.from(`${line}\n`);
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(fd, bytes));
    } catch (error) {
      // stdio inherited in non-blocking mode: wait for the reader instead of dropping the line
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Bun.sleepSync(1);
    }
  }
}

export type Logger = ConsolaInstance;

/**
 * The script's one logger, imported wherever something is logged. Plain text until the options
 * are read; configureLog then sets the format and level the user asked for.
 */
export const log: Logger = createConsola({ level: 3, throttle: 0, reporters: [textReporter(isTerminal(STDOUT), STDOUT)] });

let configured = false;

/** Whether configureLog ran: failures before it go to plain stderr, named by the script. */
export const logConfigured = () => configured;

/** `stderrOnly`: every line goes to stderr, for a script whose stdout carries data (kopia-restore's list or file). */
export function configureLog(options: { format: LogFormat; debug: boolean; stderrOnly?: boolean }): void {
  const infoFd = options.stderrOnly ? STDERR : STDOUT;
  log.level = options.debug ? 4 : 3;
  log.setReporters([options.format === "json" ? jsonReporter(infoFd) : textReporter(isTerminal(infoFd), infoFd)]);
  configured = true;
}
