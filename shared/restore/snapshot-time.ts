import { usageError } from "../exit-codes.ts";

/** An instant with kopia's precision: nanoseconds since the epoch (a JS Date keeps only milliseconds). */
export type EpochNanos = bigint;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Nanoseconds of an RFC 3339 time with a zone, or undefined when the text is not one (or no real date). */
export function epochNanos(text: string): EpochNanos | undefined {
  const match = RFC3339.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(millis);
  const real = check.getUTCFullYear() === year && check.getUTCMonth() === month - 1 && check.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!real) return undefined;
  const zone = match[8]!;
  const offsetMinutes = /^[Zz]$/.test(zone) ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const fraction = BigInt((match[7] ?? "").padEnd(9, "0"));
  return (BigInt(millis) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n + fraction;
}

/** `--as-of`: an RFC 3339 time with a zone; a date or a time without a zone is refused, never guessed. */
export function parseAsOf(value: string): EpochNanos {
  const nanos = epochNanos(value);
  if (nanos !== undefined) return nanos;
  const hint = /^\d{4}-\d{2}-\d{2}$/.test(value.trim())
    ? "give a time and a zone too, e.g. " + `${value.trim()}T23:59:59Z for the end of that day in UTC`
    : /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value.trim())
      ? "add a zone (Z or ±hh:mm), e.g. 2026-05-01T03:00:00Z or 2026-05-01T05:00:00+02:00"
      : "use RFC 3339 with a zone, e.g. 2026-05-01T03:00:00Z or 2026-05-01T05:00:00+02:00";
  throw usageError(`--as-of: '${value}' is not a time with a zone; ${hint} (KK_RESTORE_AS_OF)`);
}
