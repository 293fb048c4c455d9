import { usageError } from "./exit-codes.ts";

/**
 * Flag value, else the first set environment variable. cac has no env fallback, and putting
 * `process.env.X` into a cac default would print it in --help, so every script resolves here.
 */
export function flagOrEnv(flag: unknown, ...envNames: string[]): string | undefined {
  if (flag !== undefined && flag !== null && flag !== "") return String(flag);
  for (const name of envNames) {
    const value = process.env[name];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

/** Repeated flags arrive from cac as a string or an array; env lists are comma-separated. */
export function listFlagOrEnv(flag: unknown, envName: string): string[] {
  if (Array.isArray(flag)) return flag.map(String);
  if (flag !== undefined && flag !== null && flag !== "") return [String(flag)];
  const value = process.env[envName];
  return value ? commaSeparated([value]) : [];
}

/** Each value split at commas, trimmed, empty items dropped: "a, b" and ["a", "b,c"] both work. */
export const commaSeparated = (values: string[]): string[] =>
  values.flatMap((value) => value.split(",")).map((item) => item.trim()).filter(Boolean);

export function parseBoolean(value: string | undefined, field: string): boolean {
  if (value === undefined) return false;
  const normalized = value.toLowerCase();
  if (["1", "true", "yes", "on"].includes(normalized)) return true;
  if (["0", "false", "no", "off", ""].includes(normalized)) return false;
  throw usageError(`${field}: '${value}' is not a boolean; use true or false`);
}

export function parseNonNegativeInteger(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) {
    throw usageError(`${field}: '${value}' is not a whole number; use 0 or more, e.g. ${field} 7`);
  }
  return Number(value.trim());
}

export function parsePositiveInteger(value: string | undefined, field: string): number | undefined {
  const parsed = parseNonNegativeInteger(value, field);
  if (parsed === 0) throw usageError(`${field}: must be at least 1`);
  return parsed;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); 24 days is a round limit below that. */
const MAX_DURATION_MS = 24 * 24 * 3_600_000;

/** Parses "90s", "15m", "1h30m", "500ms". A unitless number is refused rather than guessed. */
export function parseDuration(value: string, field: string): number {
  const text = value.trim();
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const consumed = parts.map((part) => part[0]).join("");
  if (parts.length === 0 || consumed !== text) {
    throw usageError(`${field}: '${value}' is not a duration; give a unit, e.g. 30s, 15m or 1h`);
  }
  const ms = parts.reduce((total, part) => total + Number(part[1]) * DURATION_UNITS_MS[part[2]!]!, 0);
  if (!(ms > 0 && ms <= MAX_DURATION_MS)) {
    throw usageError(`${field}: '${value}' is out of range; give more than 0 and at most 24 days (576h), e.g. 30s, 15m or 1h`);
  }
  return ms;
}

export function isAbsolutePath(value: string): boolean {
  return value.startsWith("/");
}
