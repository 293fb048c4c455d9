import { usageError } from "./exit-codes.ts";
import { list, wholeNumber, type Option } from "./option-table.ts";

const RETENTION_KEYS = ["latest", "hourly", "daily", "weekly", "monthly", "annual"] as const;
type RetentionKey = (typeof RETENTION_KEYS)[number];
export type Retention = Partial<Record<RetentionKey, number>>;

type RetentionOptions = Record<`keep${Capitalize<RetentionKey>}`, Option<number | undefined>>;
const optionKey = (key: RetentionKey) => `keep${key[0]!.toUpperCase()}${key.slice(1)}` as keyof RetentionOptions;

/** `--keep-<unit> N` (env KK_KEEP_<UNIT>), one option per Kopia retention rule. */
export function retentionOptions(help: (unit: RetentionKey) => string): RetentionOptions {
  return Object.fromEntries(
    RETENTION_KEYS.map((key) => [optionKey(key), wholeNumber({ flag: `--keep-${key} <n>`, env: `KK_KEEP_${key.toUpperCase()}`, help: help(key) })]),
  ) as RetentionOptions;
}

/** Only the rules given. */
export function retentionFrom(settings: { [Key in keyof RetentionOptions]: number | undefined }): Retention {
  const retention: Retention = {};
  for (const key of RETENTION_KEYS) {
    const value = settings[optionKey(key)];
    if (value !== undefined) retention[key] = value;
  }
  return retention;
}

/** A Kopia tag: key:value, no spaces. */
export const isTag = (tag: string) => /^[^:\s]+:\S+$/.test(tag);

/** `--tag key:value`, repeatable, or KK_TAGS; a flag's value is never split at commas. */
export function tagsOption(help: string): Option<string[]> {
  return list({
    flag: "--tag <key:value>",
    env: "KK_TAGS",
    help,
    splitFlags: false,
    parse: (tag) => {
      if (!isTag(tag)) throw usageError(`--tag: '${tag}' must be key:value, e.g. --tag app:nextcloud`);
      return tag;
    },
  });
}

/** The same rules and tags as kopia-backup flags, for handing on (e.g. to a backup Job). */
export function backupFlags(tags: string[], retention: Retention): string[] {
  return [...tags.map((tag) => `--tag=${tag}`), ...Object.entries(retention).map(([key, value]) => `--keep-${key}=${value}`)];
}
