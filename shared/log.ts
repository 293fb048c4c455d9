import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola";
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

/** Text lines: structured fields (a trailing plain object) are for JSON logs only. */
function redacting(reporter: ConsolaReporter): ConsolaReporter {
  return {
    log(logObj, ctx) {
      const withoutFields = logObj.args.length > 1 && isPlainObject(logObj.args.at(-1)) ? logObj.args.slice(0, -1) : logObj.args;
      const args = withoutFields.map((arg) => (typeof arg === "string" ? redact(arg) : arg));
      reporter.log({ ...logObj, args, message: logObj.message && redact(logObj.message) }, ctx);
    },
  };
}

let activeLogger: ConsolaInstance | undefined;

/** The script's logger once options are parsed; failures before that go to plain stderr. */
export const currentLogger = () => activeLogger;

/** One logger per script: readable text on a terminal, or one JSON object per line. */
export function createLogger(options: { format: LogFormat; debug: boolean }): ConsolaInstance {
  const level = options.debug ? 4 : 3;
  if (options.format === "json") {
    activeLogger = createConsola({ level, throttle: 0, reporters: [jsonReporter] });
  } else {
    const fancy = Boolean(process.stdout.isTTY) && !process.env.CI;
    activeLogger = createConsola({ level, throttle: 0, fancy, formatOptions: { date: true, colors: fancy } });
    activeLogger.setReporters(activeLogger.options.reporters.map(redacting));
  }
  return activeLogger;
}

export type Logger = ConsolaInstance;
