import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import type { BackupSummary } from "../snapshot.ts";
import { backoffMs } from "./backoff.ts";
import { apiErrorMessage, isNotFound, type Kube } from "./client.ts";
import { buildCredentialsSecret } from "./job-spec.ts";
import { stuckCheckDelayMs, stuckReason } from "./stuck-pod.ts";

export type JobResult = "succeeded" | "failed" | "timed-out" | "cancelled";

export interface JobOutcome {
  job: V1Job;
  result: JobResult;
  /** The node the Job's pod ran on. */
  node?: string;
  /** kopia-backup's summary, read back from the pod's termination message. */
  summary?: BackupSummary;
  message?: string;
  durationSeconds: number;
}

export interface PoolOptions {
  concurrency: number;
  pendingTimeoutMs: number;
  /** Label selector matching exactly this pool's Jobs (run id + role). */
  selector: string;
  /** The API server ends each watch after this long; it is then resumed from the last version seen. */
  watchTimeoutSeconds: number;
  /** Per-Job Secret contents; undefined when the Jobs use the user's own Secret. */
  secretData?: Record<string, string>;
  log: Logger;
  onDone?: (outcome: JobOutcome) => void;
}

interface Active {
  job: V1Job;
  startedAt: number;
  pendingTimer: ReturnType<typeof setTimeout>;
  stuckTimer?: ReturnType<typeof setTimeout>;
  /** The Job reported a ready pod: nothing to look for while it runs. */
  ready: boolean;
}

const keyOf = (job: V1Job) => `${job.metadata!.namespace}/${job.metadata!.name}`;

/**
 * Runs Jobs with at most `concurrency` unfinished at any moment. Completion comes from one watch
 * on this run's Jobs (re-established when the connection drops, relisted after 410 Gone): no
 * polling. Succeeded Jobs are deleted; failed ones are kept for inspection.
 */
export function createJobPool(kube: Kube, jobs: V1Job[], options: PoolOptions) {
  const queue = [...jobs];
  const active = new Map<string, Active>();
  const outcomes: JobOutcome[] = [];
  let stopping = false;
  /** Jobs out of `active` whose outcome is still being recorded: the pool is not done before they are. */
  let finishing = 0;
  let watchAbort: AbortController | undefined;
  let resolveAll: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (resolveAll = resolve));

  /** Records a Job's end. Only failed Jobs stay, for inspection, unless `remove` says otherwise. */
  const finish = async (key: string, result: JobResult, message?: string, latest?: V1Job, remove = result !== "failed") => {
    const entry = active.get(key);
    if (!entry) return;
    active.delete(key);
    finishing++;
    clearTimeout(entry.pendingTimer);
    clearTimeout(entry.stuckTimer);
    const job = latest ?? entry.job;
    const pod = await newestPod(kube, job).catch(() => undefined);
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    const summary = parseSummary(terminated?.message);
    // e.g. DeadlineExceeded: the Job controller says why when the pod had nothing to say.
    const jobFailure = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True")?.message;
    const why = message ?? failureMessage(result, terminated?.message, summary) ?? jobFailure;
    // The entry already left `active`, so the watch's DELETED event for our own deletion is not
    // mistaken for someone else's.
    if (remove) await deleteJob(kube, job).catch((error) => options.log.warn(`could not delete Job ${key}: ${apiErrorMessage(error)}`));
    // A kept Job keeps its Secret (it owns it): the credentials go now, the Job stays for inspection.
    else if (options.secretData) await deleteCredentials(job);
    const outcome: JobOutcome = {
      job,
      result,
      ...(pod?.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      ...(summary ? { summary } : {}),
      ...(why ? { message: why } : {}),
      durationSeconds: Math.round((Date.now() - entry.startedAt) / 100) / 10,
    };
    outcomes.push(outcome);
    finishing--;
    options.onDone?.(outcome);
    await fill();
  };

  /** The per-Job Secret, named like its Job. */
  const deleteCredentials = async (job: V1Job) => {
    const where = { name: job.metadata!.name!, namespace: job.metadata!.namespace! };
    await kube.core.deleteNamespacedSecret(where).catch((error) => {
      if (!isNotFound(error)) options.log.warn(`could not delete Secret ${where.namespace}/${where.name} (the finished Job's credentials): ${apiErrorMessage(error)}`);
    });
  };

  const unfinishedWork = () => active.size > 0 || finishing > 0 || (queue.length > 0 && !stopping);

  const fill = async () => {
    while (!stopping && active.size < options.concurrency && queue.length > 0) {
      await start(queue.shift()!);
    }
    if (!unfinishedWork()) {
      watchAbort?.abort();
      resolveAll();
    }
  };

  const start = async (job: V1Job) => {
    const key = keyOf(job);
    // The slot is taken before the first await, so concurrent fills can never overshoot.
    const entry: Active = { job, startedAt: Date.now(), pendingTimer: setTimeout(() => void checkPending(key), options.pendingTimeoutMs), ready: false };
    active.set(key, entry);
    scheduleStuckCheck(key, entry);
    try {
      entry.job = await kube.batch.createNamespacedJob({ namespace: job.metadata!.namespace!, body: job });
      if (active.get(key) !== entry) {
        // Cancelled while the create was in flight: the delete then found nothing, so delete now.
        await deleteJob(kube, entry.job).catch((error) => options.log.warn(`could not delete Job ${key}: ${apiErrorMessage(error)}`));
        return;
      }
      if (options.secretData) {
        await kube.core.createNamespacedSecret({ namespace: job.metadata!.namespace!, body: buildCredentialsSecret(entry.job, options.secretData) });
        // The Job ended while its Secret was being created: that finish found no Secret to delete.
        if (active.get(key) !== entry) await deleteCredentials(entry.job);
      }
      options.log.debug(`created Job ${key}`);
    } catch (error) {
      // A Job without its Secret would only leave a pod that cannot start: remove it.
      await finish(key, "failed", `could not create Job ${key}: ${apiErrorMessage(error)}`, undefined, Boolean(entry.job.metadata?.uid));
    }
  };

  const checkPending = async (key: string, attempt = 0) => {
    const entry = active.get(key);
    if (!entry) return;
    let pod: V1Pod | undefined;
    try {
      pod = await newestPod(kube, entry.job);
    } catch (error) {
      // Not knowing is no answer: a healthy backup must not be deleted as "no pod was created".
      if (active.get(key) !== entry) return;
      const delay = backoffMs(attempt);
      options.log.warn(`could not look up the pod of Job ${key} (${apiErrorMessage(error)}); looking again in ${delay}ms`);
      entry.pendingTimer = setTimeout(() => void checkPending(key, attempt + 1), delay);
      return;
    }
    if (pod && pod.status?.phase !== "Pending") return;
    const why = pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False")?.message ?? pod?.status?.containerStatuses?.[0]?.state?.waiting?.message;
    await finish(key, "timed-out", `pod stayed Pending for ${options.pendingTimeoutMs / 1000}s${why ? `: ${why}` : pod ? "" : " (no pod was created)"}; Job deleted`);
  };

  const scheduleStuckCheck = (key: string, entry: Active) => {
    entry.stuckTimer = setTimeout(() => void checkStuck(key), stuckCheckDelayMs(options.pendingTimeoutMs));
  };

  /** A pod that cannot start (wrong image, missing Secret) fails its Job now, not at --pending-timeout. */
  const checkStuck = async (key: string) => {
    const entry = active.get(key);
    if (!entry || entry.ready) return;
    const reason = stuckReason(await newestPod(kube, entry.job).catch(() => undefined));
    if (active.get(key) !== entry) return;
    if (reason) return void finish(key, "failed", `pod cannot start: ${reason}; Job deleted`, undefined, true);
    scheduleStuckCheck(key, entry);
  };

  const onEvent = (phase: string, job: V1Job) => {
    const key = keyOf(job);
    const entry = active.get(key);
    if (!entry) return;
    if ((job.status?.ready ?? 0) > 0) entry.ready = true;
    if (phase === "DELETED") return void finish(key, "failed", "Job was deleted by someone else", job);
    const conditions = job.status?.conditions ?? [];
    if (conditions.some((c) => c.type === "Complete" && c.status === "True")) return void finish(key, "succeeded", undefined, job);
    const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
    if (failed) return void finish(key, "failed", undefined, job);
  };


  const watchJobs = async (resourceVersion: string) => {
    let lastVersion = resourceVersion;
    let relist = false;
    watchAbort = await new Watch(kube.config).watch(
      "/apis/batch/v1/jobs",
      { labelSelector: options.selector, resourceVersion: lastVersion, allowWatchBookmarks: true, timeoutSeconds: options.watchTimeoutSeconds },
      (phase, object: V1Job & { code?: number }) => {
        if (phase === "ERROR") {
          relist = object.code === 410;
          return;
        }
        lastVersion = object.metadata?.resourceVersion ?? lastVersion;
        if (phase !== "BOOKMARK") onEvent(phase, object);
      },
      (error) => {
        if (!unfinishedWork()) return;
        options.log.debug(`job watch ended${error ? ` (${apiErrorMessage(error)})` : ""}; resuming from version ${lastVersion}`);
        void rewatch(() => (relist ? listAndWatch() : watchJobs(lastVersion)));
      },
    );
  };

  /** Re-establishes the watch; while the API server is unreachable, tries again every 2 s. */
  const rewatch = async (establish: () => Promise<void>): Promise<void> => {
    try {
      await establish();
    } catch (error) {
      if (!unfinishedWork()) return;
      options.log.warn(`job watch failed (${apiErrorMessage(error)}); retrying in 2s`);
      await Bun.sleep(2000);
      return rewatch(listAndWatch);
    }
  };

  /** The current state of this run's Jobs, then a watch from that point on. */
  const listAndWatch = async () => {
    const list = await kube.batch.listJobForAllNamespaces({ labelSelector: options.selector });
    for (const job of list.items) onEvent("MODIFIED", job);
    await watchJobs(list.metadata?.resourceVersion ?? "");
  };

  return {
    async run(): Promise<JobOutcome[]> {
      if (jobs.length === 0) return [];
      await listAndWatch();
      await fill();
      await allDone;
      return outcomes;
    },
    /** Start nothing new; delete this run's unfinished Jobs. */
    async cancel(): Promise<void> {
      stopping = true;
      // Queued Jobs first, before anything awaits: the pool must not report itself done while
      // they are unrecorded, and their onDone lets, among others, their pods' post-backup hooks run.
      for (const job of queue.splice(0)) {
        const outcome: JobOutcome = { job, result: "cancelled", message: "not started (cancelled)", durationSeconds: 0 };
        outcomes.push(outcome);
        options.onDone?.(outcome);
      }
      const unfinished = [...active.keys()];
      await Promise.all(unfinished.map((key) => finish(key, "cancelled", "cancelled by signal; Job deleted")));
      await fill();
    },
  };
}

async function newestPod(kube: Kube, job: V1Job): Promise<V1Pod | undefined> {
  const pods = await kube.core.listNamespacedPod({ namespace: job.metadata!.namespace!, labelSelector: `batch.kubernetes.io/job-name=${job.metadata!.name}` });
  return pods.items.sort((a, b) => String(b.metadata?.creationTimestamp ?? "").localeCompare(String(a.metadata?.creationTimestamp ?? "")))[0];
}

export async function deleteJob(kube: Kube, job: V1Job): Promise<void> {
  try {
    await kube.batch.deleteNamespacedJob({ name: job.metadata!.name!, namespace: job.metadata!.namespace!, propagationPolicy: "Background" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

function parseSummary(message: string | undefined): BackupSummary | undefined {
  if (!message?.trim().startsWith("{")) return undefined;
  try {
    return JSON.parse(message) as BackupSummary;
  } catch {
    return undefined;
  }
}

function failureMessage(result: JobResult, terminationMessage: string | undefined, summary: BackupSummary | undefined): string | undefined {
  if (result === "succeeded") return undefined;
  if (summary) return summary.message;
  return terminationMessage?.trim().split("\n").slice(-3).join(" | ") || undefined;
}
