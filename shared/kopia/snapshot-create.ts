import { ExitCode, KkError, repositoryError } from "../exit-codes.ts";
import { log } from "../log.ts";
import type { Retention } from "../retention.ts";
import { parseSnapshotJson, summarizeSnapshot, type BackupSummary } from "../snapshot.ts";
import { kopiaErrorMessage, kopiaFailure, recognizeRepositoryFailure, runKopia, sourceName, type KopiaContext } from "./run.ts";

export interface SnapshotSettings {
  /** The folder read from disk (the source, `user@host:/path`, is recorded; it may name another path). */
  path: string;
  tags: string[];
  description?: string;
}

/**
 * One source's backup on an open connection: its retention policy, then the snapshot. A signal
 * before a step ends it with nothing saved (exit 4).
 */
export async function retainAndSnapshot(kopia: KopiaContext, settings: SnapshotSettings, source: string, retention: Retention): Promise<BackupSummary> {
  const stopIfCancelled = () => {
    if (kopia.signal.aborted) throw new KkError("cancelled before the snapshot started; nothing was saved", ExitCode.incomplete);
  };
  stopIfCancelled();
  await applyRetention(kopia, source, retention);
  stopIfCancelled();
  return createSnapshot(kopia, settings, source);
}

/** Sets Kopia's retention policy for this source (only the rules the user gave). */
async function applyRetention(kopia: KopiaContext, source: string, retention: Retention): Promise<void> {
  const args = Object.entries(retention).map(([key, value]) => `--keep-${key}=${value}`);
  if (args.length === 0) return;
  const result = await runKopia(kopia, ["policy", "set", source, ...args]);
  if (result.exitCode !== 0) {
    // The values were checked before: a refused policy is the repository's trouble (say, storage that refuses writes).
    throw kopiaFailure(kopia, result, "setting retention", () => repositoryError(`repository ${kopia.repository.url}: setting the retention policy failed: ${kopiaErrorMessage(result.stderr)}`));
  }
  log.info(`retention for ${source}: ${args.join(" ")}`);
}

/**
 * Runs `kopia snapshot create` and turns its JSON and exit code into a summary. A source other than
 * kopia's own name for the folder (another recorded path, or another user: a --volumes run) is
 * given as `--override-source`.
 */
async function createSnapshot(kopia: KopiaContext, settings: SnapshotSettings, source: string): Promise<BackupSummary> {
  const args = [
    "snapshot", "create", settings.path, "--json", "--progress", "--no-auto-maintenance",
    ...(source !== sourceName(kopia, settings.path) ? [`--override-source=${source}`] : []),
    ...settings.tags.map((tag) => `--tags=${tag}`),
    ...(settings.description ? [`--description=${settings.description}`] : []),
  ];
  const startedAt = new Date();
  const result = await runKopia(kopia, args, tidyKopiaOutput());
  let snapshot = parseSnapshotJson(result.stdout);
  // kopia prints the snapshot's JSON before its last writes; when it then fails (storage that
  // refuses writes), the snapshot may not exist. Never report one the repository does not list.
  if (snapshot?.id && result.exitCode !== 0 && !(await snapshotListed(kopia, source, snapshot.id))) {
    log.warn(`kopia printed snapshot ${snapshot.id}, but the repository does not list it: it was not saved`);
    snapshot = undefined;
  }
  // Stopped before it printed a snapshot: kopia saved nothing, and the cause is the signal, not kopia.
  if (!snapshot && kopia.signal.aborted) throw new KkError("the snapshot was cancelled by a signal before kopia saved any of it; nothing was saved", ExitCode.incomplete);
  // A reused connection meets a changed password or a lost endpoint only here.
  const repositoryFailure = snapshot ? undefined : recognizeRepositoryFailure(result.stderr, kopia.repository);
  if (repositoryFailure) throw repositoryFailure;
  return summarizeSnapshot({
    snapshot,
    exitCode: result.exitCode,
    kopiaError: kopiaErrorMessage(result.stderr),
    source,
    startedAt,
    endedAt: new Date(),
  });
}

/** Whether the repository lists the snapshot; false too when it cannot be asked. */
async function snapshotListed(kopia: KopiaContext, source: string, id: string): Promise<boolean> {
  const listed = await runKopia(kopia, ["snapshot", "list", "--json", "--incomplete", source]);
  if (listed.exitCode !== 0) return false;
  try {
    return (JSON.parse(listed.stdout) as { id?: string }[]).some((entry) => entry.id === id);
  } catch {
    return false;
  }
}

const PROGRESS_EVERY_MS = 10_000;

/** kopia redraws a progress line several times a second: log one every 10 s, the rest by kind. */
function tidyKopiaOutput(): (line: string) => void {
  let lastProgressAt = Date.now();
  return (line) => {
    const text = line.trim();
    const progress = /^[|/\\*-]?\s*(\d+ hashing, .*)$/.exec(text);
    if (progress) {
      if (Date.now() - lastProgressAt >= PROGRESS_EVERY_MS) {
        lastProgressAt = Date.now();
        log.info(`progress: ${progress[1]}`);
      }
      return;
    }
    if (/^(ERROR|!)|error/i.test(text)) log.warn(`kopia: ${text.replace(/^ERROR\s+/, "")}`);
    else log.debug(`kopia: ${text}`);
  };
}

