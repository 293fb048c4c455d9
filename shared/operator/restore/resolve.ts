import { ExitCode, KkError } from "../../exit-codes.ts";
import { log } from "../../log.ts";
import type { ListSummary, RestoreSummary } from "../../restore/summary.ts";
import type { Kube } from "../client.ts";
import { createJobPool, type JobOutcome } from "../job-pool.ts";
import type { JobSettings } from "../job-spec.ts";
import { backupJobName, LABEL_ROLE, LABEL_RUN_ID } from "../names.ts";
import type { OperatorRestoreSettings, PvcRef } from "../operator-restore-options.ts";
import { buildResolveJob } from "./job-spec.ts";

/** A source and the snapshot its resolve Job pinned (or why it could not). */
export interface Resolved {
  source: PvcRef;
  summary?: RestoreSummary;
  /** Set when no snapshot was pinned: the error that says why (exit 8: none matches). */
  failure?: KkError;
}

/** Where the resolve Jobs run: --job-namespace, else this identity's own namespace. */
export const jobNamespaceOf = (kube: Kube, settings: Pick<OperatorRestoreSettings, "jobNamespace">) => settings.jobNamespace ?? kube.homeNamespace;

type Poolable = Pick<OperatorRestoreSettings, "runId" | "jobPrefix" | "jobNamespace" | "concurrency" | "pendingTimeoutMs" | "watchTimeoutSeconds" | "userSecretName" | "secretData" | "selectionArgs" | "subpath" | "repositoryNode">;

function resolvePool<Target, Summary extends { message: string }>(kube: Kube, settings: Poolable, work: { job: ReturnType<typeof buildResolveJob>; target: Target }[], signal: AbortSignal) {
  return createJobPool<Target, Summary>(kube, work, {
    concurrency: settings.concurrency,
    pendingTimeoutMs: settings.pendingTimeoutMs,
    watchTimeoutSeconds: settings.watchTimeoutSeconds,
    selector: `${LABEL_RUN_ID}=${settings.runId},${LABEL_ROLE}=resolve`,
    namespaced: true,
    ...(settings.userSecretName ? {} : { secretData: settings.secretData }),
    signal,
  });
}

/**
 * One short Job per source (at most --concurrency at once) runs kopia-restore's dry run with the
 * selection flags; each pins the snapshot its summary names, so every later step restores exactly
 * that one, whatever is backed up meanwhile.
 */
export async function pinSnapshots(kube: Kube, settings: Poolable, jobSettings: JobSettings, sources: PvcRef[], signal: AbortSignal): Promise<Resolved[]> {
  const namespace = jobNamespaceOf(kube, settings);
  const work = sources.map((source) => ({
    target: source,
    job: buildResolveJob(backupJobName(`${settings.jobPrefix}-pick`, settings.runId, source.namespace, source.pvc), namespace, jobSettings, { source, selectionArgs: settings.selectionArgs, ...(settings.subpath ? { subpath: settings.subpath } : {}) }, settings.repositoryNode),
  }));
  log.info(`picking the snapshot of ${sources.length === 1 ? `${sources[0]!.namespace}/${sources[0]!.pvc}` : `${sources.length} PVCs`} with ${sources.length === 1 ? "a Job" : "Jobs"} in namespace ${namespace}`);
  const resolved: Resolved[] = [];
  for await (const outcome of resolvePool<PvcRef, RestoreSummary>(kube, settings, work, signal).outcomes()) resolved.push(resolvedFrom(outcome));
  return resolved;
}

function resolvedFrom(outcome: JobOutcome<PvcRef, RestoreSummary>): Resolved {
  const summary = outcome.summary;
  if (outcome.result === "success" && summary?.snapshotId) return { source: outcome.target, summary };
  return { source: outcome.target, ...(summary ? { summary } : {}), failure: resolveFailure(outcome) };
}

/** kopia-restore's own verdict where it gave one (8 no snapshot, 5 repository, 2 bad input), else a failed Job. */
function resolveFailure(outcome: Omit<JobOutcome<unknown, { message: string }>, "target">): KkError {
  const why = outcome.message ?? outcome.result;
  const code = outcome.exitCode;
  if (code === ExitCode.noSnapshot || code === ExitCode.repository || code === ExitCode.usage) return new KkError(why, code);
  if (outcome.result === "cancelled") return new KkError(`picking the snapshot was cancelled: ${why}`, ExitCode.incomplete);
  return new KkError(`the Job that picks the snapshot ${outcome.result}: ${why}`, ExitCode.jobsFailed);
}

/** Disaster recovery: one Job lists every source in the repository (`pvc@host`). */
export async function listSources(kube: Kube, settings: Poolable, jobSettings: JobSettings, signal: AbortSignal): Promise<string[]> {
  const namespace = jobNamespaceOf(kube, settings);
  const job = buildResolveJob(`${settings.jobPrefix}-list-${settings.runId}`, namespace, jobSettings, { list: true }, settings.repositoryNode);
  log.info(`listing the repository's sources with Job ${namespace}/${job.metadata!.name}`);
  let outcome: JobOutcome<string, ListSummary> | undefined;
  for await (const ended of resolvePool<string, ListSummary>(kube, settings, [{ job, target: "list" }], signal).outcomes()) outcome = ended;
  if (outcome?.result === "success" && outcome.summary?.sources) return outcome.summary.sources;
  throw outcome ? resolveFailure(outcome) : new KkError("the Job that lists the repository reported nothing", ExitCode.jobsFailed);
}
