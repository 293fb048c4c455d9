// consola/core: the logger without the fancy/basic reporters, whose dependencies cost ~10 ms of
// start-up in every run; the two reporters kopia-k8s needs are small and below.
import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola/core";
import { format } from "node:util";
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

export function parseLogFormat(value: string | undefined): LogFormat {
  const normalized = (value ?? "text").toLowerCase();
  if (normalized === "text" || normalized === "console") return "text";
  if (normalized === "json") return "json";
  throw usageError(`--log-format: '${value}' is not a log format; use text or json (KK_LOG_FORMAT)`);
}

const jsonReporter: ConsolaReporter = {
  log(logObj: LogObject) {
    const [first, ...rest] = logObj.args;
    const fields = rest.length === 1 && isPlainObject(rest[0]) ? rest[0] : undefined;
    const message = fields ? String(first) : format(...logObj.args);
    const line = JSON.stringify({
      time: logObj.date.toISOString(),
      level: logObj.type === "log" ? "info" : logObj.type,
      msg: message,
      ...fields,
    });
    process.stdout.write(`${redact(line)}\n`);
  },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

const LEVEL_COLORS: Record<string, string> = { error: "31", fatal: "31", warn: "33", success: "32", info: "36", debug: "90", trace: "90" };

/**
 * Readable lines: `HH:MM:SS level message`, coloured on a terminal. Structured fields (a trailing
 * plain object) are for JSON logs only. warn and error go to stderr, the rest to stdout.
 */
function textReporter(colors: boolean): ConsolaReporter {
  return {
    log(logObj) {
      const args = logObj.args.length > 1 && isPlainObject(logObj.args.at(-1)) ? logObj.args.slice(0, -1) : logObj.args;
      const level = logObj.type === "log" ? "info" : logObj.type;
      const label = colors ? `\x1b[${LEVEL_COLORS[level] ?? "0"}m${level.padEnd(7)}\x1b[0m` : level.padEnd(7);
      const time = logObj.date.toTimeString().slice(0, 8);
      const stream = logObj.level <= 1 ? process.stderr : process.stdout;
      stream.write(`${time} ${label} ${redact(format(...args))}\n`);
    },
  };
}

let activeLogger: ConsolaInstance | undefined;

/** The script's logger once options are parsed; failures before that go to plain stderr. */
export const currentLogger = () => activeLogger;

/** One logger per script: readable text on a terminal, or one JSON object per line. */
export function createLogger(options: { format: LogFormat; debug: boolean }): ConsolaInstance {
  const level = options.debug ? 4 : 3;
  const reporter = options.format === "json" ? jsonReporter : textReporter(Boolean(process.stdout.isTTY) && !process.env.NO_COLOR);
  activeLogger = createConsola({ level, throttle: 0, reporters: [reporter] });
  return activeLogger;
}

export type Logger = ConsolaInstance;
