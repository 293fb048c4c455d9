/** kopia's closing line of a restore, read into numbers (kopia prints no JSON for restores). */
export interface RestoredCounts {
  files: number;
  dirs: number;
  symlinks: number;
  /** As kopia prints it: rounded to one decimal of its unit. */
  bytes: number;
  skipped: number;
  skippedBytes: number;
  deleted: number;
  /** Errors kopia ignored (--ignore-errors, or permission errors with --skip-owners). */
  errors: number;
}

const LINE = /^Restored (\d+) files, (\d+) directories and (\d+) symbolic links \(([^)]+)\)(.*?)\.?$/;

/**
 * Reads `Restored N files, N directories and N symbolic links (1.2 GB)[, skipped N (size)]
 * [, deleted directories N][, deleted files N][, deleted symbolic links N][, ignored N errors].`
 * Undefined when the line is something else.
 */
export function parseRestoredLine(line: string): RestoredCounts | undefined {
  const match = LINE.exec(line.trim());
  if (!match) return undefined;
  const bytes = parseKopiaBytes(match[4]!);
  if (bytes === undefined) return undefined;
  const rest = match[5]!;
  const number = (pattern: RegExp) => Number(pattern.exec(rest)?.[1] ?? 0);
  const skipped = /, skipped (\d+) \(([^)]+)\)/.exec(rest);
  return {
    files: Number(match[1]),
    dirs: Number(match[2]),
    symlinks: Number(match[3]),
    bytes,
    skipped: Number(skipped?.[1] ?? 0),
    skippedBytes: skipped ? parseKopiaBytes(skipped[2]!) ?? 0 : 0,
    deleted: number(/, deleted directories (\d+)/) + number(/, deleted files (\d+)/) + number(/, deleted symbolic links (\d+)/),
    errors: number(/, ignored (\d+) errors/),
  };
}

const UNITS: Record<string, number> = { "": 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** `1.2 GB` (kopia's default, powers of 1000) or `1.2 GiB` (KOPIA_BYTES_STRING_BASE_2) as bytes. */
export function parseKopiaBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?) ([KMGTPE]i?)?B$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? ""]!);
}
