import type { Command } from "cac";
import { usageError } from "./exit-codes.ts";
import { commaSeparated, flagOrEnv, isAbsolutePath, listFlagOrEnv, parseBoolean, parseDuration, parseNonNegativeInteger, parsePositiveInteger } from "./options.ts";

/**
 * One option, declared once: its flag, environment variable, help and default together. The
 * --help line is derived from them, and reading turns flag-or-env text into a typed value.
 */
export interface Option<T> {
  /** cac's form: `--path <dir>`, `--debug` or `--no-maintenance`; absent for an env-only setting. */
  flag?: string;
  env?: string;
  help?: string;
  /** Written as a user would type it and parsed like their input; --help shows it unless computed. */
  default?: string | (() => string);
  /** What --help says when the default is not a fixed text (e.g. "this machine's hostname"). */
  defaultHelp?: string;
  read(flags: Record<string, unknown>): T;
}

interface Spec {
  flag?: string;
  env?: string;
  help?: string;
  defaultHelp?: string;
  /** A good value, shown by errors about this option. */
  example?: string;
}

type Parser<T> = (text: string, field: string, spec: Spec) => T;

/** An option of one value: the default's type, or `| undefined` without one. */
interface ValueBuilder<T> {
  (spec: Spec & ({ default: string | (() => string) } | { required: string })): Option<T>;
  (spec: Spec): Option<T | undefined>;
}

export function valueOption<T>(parse: Parser<T>): ValueBuilder<T> {
  return ((spec: Spec & { default?: string | (() => string); required?: string }): Option<T | undefined> => ({
    ...spec,
    read(flags) {
      const given = flagOrEnv(spec.flag ? flags[flagKey(spec.flag)] : undefined, ...(spec.env ? [spec.env] : []));
      const text = given ?? (typeof spec.default === "function" ? spec.default() : spec.default);
      if (text === undefined && spec.required) throw usageError(`${fieldOf(spec)}: ${spec.required}`);
      return text === undefined ? undefined : parse(text, fieldOf(spec), spec);
    },
  })) as ValueBuilder<T>;
}

/** Text as given. */
export const text = valueOption((value) => value);
export const wholeNumber = valueOption((value, field) => parseNonNegativeInteger(value, field)!);
export const positiveInteger = valueOption((value, field) => parsePositiveInteger(value, field)!);
/** A duration in ms, from "90s", "15m", "1h30m". */
export const duration = valueOption(parseDuration);
/** An absolute path, trailing slashes kept as given. */
export const absolutePath = valueOption((value, field, spec) => {
  if (!isAbsolutePath(value)) throw usageError(`${field}: '${value}' must be an absolute path${spec.example ? `, e.g. ${spec.example}` : ""}`);
  return value;
});
/** One of a fixed set of words. */
export function oneOf<const Word extends string>(words: readonly Word[]) {
  return valueOption((value, field): Word => {
    const word = words.find((candidate) => candidate === value.trim());
    if (!word) throw usageError(`${field}: '${value}' must be ${words.slice(0, -1).join(", ")} or ${words.at(-1)}`);
    return word;
  });
}

/**
 * An on/off switch: `--debug` turns on what is off by default, `--no-maintenance` turns off what is
 * on; the env variable says either with true/false.
 */
export function toggle(spec: Spec): Option<boolean> {
  const defaultOn = spec.flag?.startsWith("--no-") ?? false;
  return {
    ...spec,
    default: String(defaultOn),
    read(flags) {
      if (spec.flag && flags[flagKey(spec.flag)] === !defaultOn) return !defaultOn;
      const env = spec.env ? flagOrEnv(undefined, spec.env) : undefined;
      return env === undefined ? defaultOn : parseBoolean(env, spec.env!);
    },
  };
}

/**
 * A repeatable option (or a comma-separated env list), each item checked by `parse`. Flag values are
 * split at commas too unless `splitFlags` is false (a tag's value may hold a comma).
 */
export function list<T = string>(spec: Spec & { splitFlags?: boolean; parse?: Parser<T> }): Option<T[]> {
  return {
    ...spec,
    read(flags) {
      const given = listFlagOrEnv(spec.flag ? flags[flagKey(spec.flag)] : undefined, spec.env ?? "");
      const items = spec.splitFlags === false ? given : commaSeparated(given);
      const parse = spec.parse ?? ((item: string) => item as T);
      return items.map((item) => parse(item, fieldOf(spec), spec));
    },
  };
}

export type OptionTable = Record<string, Option<unknown>>;
export type Settings<Table extends OptionTable> = { [Key in keyof Table]: ReturnType<Table[Key]["read"]> };

/** Declares every option that has a flag on the command, with its help line. */
export function declareOptions(command: Command, table: OptionTable): void {
  for (const option of Object.values(table)) if (option.flag) command.option(option.flag, helpLine(option));
}

/** Every option's value, typed by the table: a mistyped key fails to compile. Options not given and without a default are left out. */
export function readOptions<Table extends OptionTable>(flags: Record<string, unknown>, table: Table): Settings<Table> {
  const entries = Object.entries(table).map(([key, option]) => [key, option.read(flags)] as const);
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined)) as Settings<Table>;
}

/** Whether the user gave the option, by flag or env, rather than its default applying. */
export function given(flags: Record<string, unknown>, option: Option<unknown>): boolean {
  return flagOrEnv(option.flag ? flags[flagKey(option.flag)] : undefined, ...(option.env ? [option.env] : [])) !== undefined;
}

function helpLine(option: Option<unknown>): string {
  const env = option.env ? ` (env ${option.env}${option.flag?.startsWith("--no-") ? "=false" : ""})` : "";
  const shown = option.defaultHelp ?? (option.flag?.includes("<") && typeof option.default === "string" ? option.default : undefined);
  return `${option.help ?? ""}${env}${shown ? ` [default: ${shown}]` : ""}`;
}

/** cac's key for a flag: `--keep-daily <n>` → keepDaily, `--no-create` → create. */
export function flagKey(flag: string): string {
  const name = flag.split(/[\s<[]/)[0]!.replace(/^--(no-)?/, "");
  return name.replace(/([a-z])-([a-z])/g, (_, before: string, after: string) => before + after.toUpperCase());
}

/** The name an error gives: the flag as typed, else the env variable. */
function fieldOf(spec: Spec): string {
  return spec.flag ? spec.flag.split(/[\s<[]/)[0]! : (spec.env ?? "option");
}
