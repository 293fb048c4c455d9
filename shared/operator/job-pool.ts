import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import type { KkError } from "../exit-codes.ts";
import { log } from "../log.ts";
import type { BackupSummary } from "../snapshot.ts";
import { retryDelays } from "./backoff.ts";
import { apiErrorMessage, isNotFound, permanentApiError, type Kube } from "./client.ts";
import { nextStartable } from "./job-slots.ts";
import { buildCredentialsSecret } from "./job-spec.ts";
import { podCreationRefusal, stuckCheckDelayMs, stuckReason } from "./stuck-pod.ts";

export type JobResult = "success" | "failed" | "timed-out" | "cancelled";

/** A Job to run, and what it works on: its outcome carries the same target back. */
export interface JobWork<Target> {
  job: V1Job;
  target: Target;
  /** The node the Job is pinned to, when it is: it then counts against `nodeConcurrency`. */
  node?: string;
}

export interface JobOutcome<Target = unknown, Summary = BackupSummary> {
  job: V1Job;
  target: Target;
  result: JobResult;
  /** The node the Job's pod ran on. */
  node?: string;
  /** The command's JSON summary (kopia-backup's by default), read back from the pod's termination message. */
  summary?: Summary;
  /** The container's exit code, when it ran and ended. */
  exitCode?: number;
  message?: string;
  durationSeconds: number;
}

export interface PoolOptions {
  /** Jobs unfinished at once over the whole pool. */
  concurrency: number;
  /** Jobs unfinished at once on one node (a pinned Job's node); undefined: no bound per node. */
  nodeConcurrency?: number;
  pendingTimeoutMs: number;
  /** Label selector matching exactly this pool's Jobs (run id + role). */
  selector: string;
  /** The API server ends each watch after this long; it is then resumed from the last version seen. */
  watchTimeoutSeconds: number;
  /**
   * List and watch each namespace of the pool's Jobs on its own, instead of one cluster-wide watch:
   * an identity with rights in some namespaces only (--namespace) can run the pool.
   */
  namespaced?: boolean;
  /** Per-Job Secret contents; undefined when the Jobs use the user's own Secret. */
  secretData?: Record<string, string>;
  /** Aborting starts nothing new and deletes the unfinished Jobs, each reported as cancelled. */
  signal: AbortSignal;
}

interface Active<Target> {
  work: JobWork<Target>;
  job: V1Job;
  startedAt: number;
  pendingTimer: ReturnType<typeof setTimeout>;
  stuckTimer?: ReturnType<typeof setTimeout>;
  /** The Job reported a ready pod: nothing to look for while it runs. */
  ready: boolean;
}

const keyOf = (job: V1Job) => `${job.metadata!.namespace}/${job.metadata!.name}`;

/**
 * Runs Jobs with at most `concurrency` unfinished at any moment, and at most `nodeConcurrency` on
 * one node, and hands out each outcome as it comes. Completion comes from one watch on this run's
 * Jobs, or one per namespace (re-established when the connection drops, relisted after 410 Gone): no polling. Succeeded Jobs are deleted;
 * failed ones are kept for inspection.
 */
export function createJobPool<Target, Summary extends { message: string } = BackupSummary>(kube: Kube, work: JobWork<Target>[], options: PoolOptions) {
  const jobs = work.map((item) => item.job);
  const queue = [...work];
  const active = new Map<string, Active<Target>>();
  /** Outcomes not handed out yet, and the wake-up of the reader waiting for one. */
  const ready: JobOutcome<Target, Summary>[] = [];
  let wakeReader: () => void = () => {};
  let done = false;
  let stopping = false;
  /** Jobs out of `active` whose outcome is still being recorded: the pool is not done before they are. */
  let finishing = 0;
  /** A refusal that retrying cannot cure: the pool stops, and run() rejects with it. */
  let fatal: KkError | undefined;

  const record = (outcome: JobOutcome<Target, Summary>) => {
    ready.push(outcome);
    wakeReader();
  };

  /** Records a Job's end. Only failed Jobs stay, for inspection, unless `remove` says otherwise. */
  const finish = async (key: string, result: JobResult, { message, latest, remove = result !== "failed" }: { message?: string; latest?: V1Job; remove?: boolean } = {}) => {
    const entry = active.get(key);
    if (!entry) return;
    active.delete(key);
    finishing++;
    clearTimeout(entry.pendingTimer);
    clearTimeout(entry.stuckTimer);
    const job = latest ?? entry.job;
    const pod = await newestPod(kube, job).catch(() => undefined);
    const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
    const summary = parseSummary<Summary>(terminated?.message);
    // e.g. DeadlineExceeded: the Job controller says why when the pod had nothing to say.
    const jobFailure = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True")?.message;
    const why = message ?? failureMessage(result, terminated?.message, summary) ?? jobFailure;
    // The entry already left `active`, so the watch's DELETED event for our own deletion is not
    // mistaken for someone else's.
    if (remove) await deleteJob(kube, job).catch((error) => log.warn(`could not delete Job ${key}: ${apiErrorMessage(error)}`));
    // A kept Job keeps its Secret (it owns it): the credentials go now, the Job stays for inspection.
    else if (options.secretData && job.metadata?.uid) await deleteCredentials(job);
    const outcome: JobOutcome<Target, Summary> = {
      job,
      target: entry.work.target,
      result,
      ...(pod?.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      ...(summary ? { summary } : {}),
      ...(terminated?.exitCode !== undefined ? { exitCode: terminated.exitCode } : {}),
      ...(why ? { message: why } : {}),
      durationSeconds: Math.round((Date.now() - entry.startedAt) / 100) / 10,
    };
    finishing--;
    record(outcome);
    await fill();
  };

  /** The per-Job Secret, named like its Job. */
  const deleteCredentials = async (job: V1Job) => {
    const where = { name: job.metadata!.name!, namespace: job.metadata!.namespace! };
    await kube.core.deleteNamespacedSecret(where).catch((error) => {
      if (!isNotFound(error)) log.warn(`could not delete Secret ${where.namespace}/${where.name} (the finished Job's credentials): ${apiErrorMessage(error)}`);
    });
  };

  const unfinishedWork = () => active.size > 0 || finishing > 0 || (queue.length > 0 && !stopping);

  const fill = async () => {
    const limits = { total: options.concurrency, perNode: options.nodeConcurrency };
    while (!stopping) {
      const next = nextStartable(queue, [...active.values()].map((entry) => entry.work.node), limits);
      if (next < 0) break;
      await start(queue.splice(next, 1)[0]!);
    }
    if (!unfinishedWork()) {
      for (const watch of watches) watch.stop();
      done = true;
      wakeReader();
    }
  };

  const start = async (item: JobWork<Target>) => {
    const job = item.job;
    const key = keyOf(job);
    // The slot is taken before the first await, so concurrent fills can never overshoot.
    const entry: Active<Target> = { work: item, job, startedAt: Date.now(), pendingTimer: setTimeout(() => void checkPending(key), options.pendingTimeoutMs), ready: false };
    active.set(key, entry);
    scheduleStuckCheck(key, entry);
    try {
      entry.job = await kube.batch.createNamespacedJob({ namespace: job.metadata!.namespace!, body: job });
      if (active.get(key) !== entry) {
        // Cancelled while the create was in flight: the delete then found nothing, so delete now.
        await deleteJob(kube, entry.job).catch((error) => log.warn(`could not delete Job ${key}: ${apiErrorMessage(error)}`));
        return;
      }
      if (options.secretData) {
        await kube.core.createNamespacedSecret({ namespace: job.metadata!.namespace!, body: buildCredentialsSecret(entry.job, options.secretData) });
        // The Job ended while its Secret was being created: that finish found no Secret to delete.
        if (active.get(key) !== entry) await deleteCredentials(entry.job);
      }
      log.debug(`created Job ${key}`);
    } catch (error) {
      // A Job without its Secret would only leave a pod that cannot start: remove it.
      await finish(key, "failed", { message: `could not create Job ${key}: ${apiErrorMessage(error)}`, remove: Boolean(entry.job.metadata?.uid) });
    }
  };

  const checkPending = async (key: string, delays?: Generator<number>) => {
    const entry = active.get(key);
    if (!entry) return;
    if (!delays && (await endedWithoutEvent(key, entry))) return;
    let pod: V1Pod | undefined;
    try {
      pod = await newestPod(kube, entry.job);
    } catch (error) {
      // Not knowing is no answer: a healthy backup must not be deleted as "no pod was created".
      if (active.get(key) !== entry) return;
      const retries = delays ?? retryDelays();
      const delay = retries.next().value!;
      log.warn(`could not look up the pod of Job ${key} (${apiErrorMessage(error)}); looking again in ${delay}ms`);
      entry.pendingTimer = setTimeout(() => void checkPending(key, retries), delay);
      return;
    }
    if (pod && pod.status?.phase !== "Pending") return;
    const why = pod?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False")?.message ?? pod?.status?.containerStatuses?.[0]?.state?.waiting?.message;
    await finish(key, "timed-out", { message: `pod stayed Pending for ${options.pendingTimeoutMs / 1000}s${why ? `: ${why}` : pod ? "" : " (no pod was created)"}; Job deleted` });
  };

  /**
   * A timer reads the Job itself: the watch may never deliver its end (it keeps failing, or a proxy
   * holds it open and silent). True when that ended the Job. One list call: no `get` right needed.
   */
  const endedWithoutEvent = async (key: string, entry: Active<Target>): Promise<boolean> => {
    const where = { namespace: entry.job.metadata!.namespace!, fieldSelector: `metadata.name=${entry.job.metadata!.name}` };
    const [latest] = (await kube.batch.listNamespacedJob(where).catch(() => undefined))?.items ?? [];
    if (latest && hasEnded(latest)) onEvent("MODIFIED", latest);
    return active.get(key) !== entry;
  };

  const scheduleStuckCheck = (key: string, entry: Active<Target>) => {
    entry.stuckTimer = setTimeout(() => void checkStuck(key), stuckCheckDelayMs(options.pendingTimeoutMs));
  };

  /** A pod that cannot start (wrong image, missing Secret) fails its Job now, not at --pending-timeout. */
  const checkStuck = async (key: string) => {
    const entry = active.get(key);
    if (!entry || entry.ready) return;
    if (await endedWithoutEvent(key, entry)) return;
    const pod = await newestPod(kube, entry.job).catch(() => undefined);
    const reason = stuckReason(pod) ?? (pod ? undefined : await podCreationRefusal(kube, entry.job));
    if (active.get(key) !== entry) return;
    if (reason) return void finish(key, "failed", { message: `pod cannot start: ${reason}; Job deleted`, remove: true });
    scheduleStuckCheck(key, entry);
  };

  const onEvent = (phase: string, job: V1Job) => {
    const key = keyOf(job);
    const entry = active.get(key);
    if (!entry) return;
    if ((job.status?.ready ?? 0) > 0) entry.ready = true;
    if (phase === "DELETED") return void finish(key, "failed", { message: "Job was deleted by someone else", latest: job });
    if (hasCondition(job, "Complete")) return void finish(key, "success", { latest: job });
    if (hasCondition(job, "Failed")) return void finish(key, "failed", { latest: job });
  };

  /**
   * The Jobs of one namespace, or of all (`namespace` undefined): listed, then watched from that
   * point on. Every re-watch waits, growing while watches keep failing; after a failure or 410 Gone
   * the Jobs are listed again, so what happened meanwhile is read, not waited for.
   */
  const watchScope = (namespace: string | undefined) => {
    let abort: AbortController | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    /** Waits before the next watch: they grow while watches keep failing or ending at once. */
    let delays = retryDelays();
    const where = namespace ? `namespace ${namespace}` : "all namespaces";
    const refusal = (verb: "list" | "watch", error: unknown) => permanentApiError(error, verb, "jobs", "batch", namespace);

    const watchJobs = async (resourceVersion: string) => {
      let lastVersion = resourceVersion;
      let relist = false;
      let delivered = false;
      const startedAt = Date.now();
      // client-node's Watch reports HTTP errors through the done callback, never by throwing.
      abort = await new Watch(kube.config).watch(
        namespace ? `/apis/batch/v1/namespaces/${namespace}/jobs` : "/apis/batch/v1/jobs",
        { labelSelector: options.selector, resourceVersion: lastVersion, allowWatchBookmarks: true, timeoutSeconds: options.watchTimeoutSeconds },
        (phase, object: V1Job & { code?: number }) => {
          if (phase === "ERROR") {
            relist = object.code === 410;
            return;
          }
          delivered = true;
          lastVersion = object.metadata?.resourceVersion ?? lastVersion;
          if (phase !== "BOOKMARK") onEvent(phase, object);
        },
        (error) => {
          if (!unfinishedWork()) return;
          const refused = refusal("watch", error);
          if (refused) return fail(refused);
          if (delivered || Date.now() - startedAt >= 1000) delays = retryDelays();
          const delay = delays.next().value!;
          if (error) log.warn(`job watch in ${where} failed (${apiErrorMessage(error)}); listing this run's Jobs again in ${delay}ms`);
          else log.debug(`job watch in ${where} ended; resuming from version ${lastVersion} in ${delay}ms`);
          retryIn(delay, error || relist ? listAndWatch : () => watchJobs(lastVersion));
        },
      );
    };

    const retryIn = (delayMs: number, establish: () => Promise<void>) => {
      clearTimeout(retry);
      retry = setTimeout(() => void establishWatch(establish), delayMs);
    };

    /** Lists and watches, or watches; a list that fails is tried again after a growing wait. */
    const establishWatch = async (establish: () => Promise<void>): Promise<void> => {
      if (!unfinishedWork()) return;
      try {
        await establish();
      } catch (error) {
        if (!unfinishedWork()) return;
        const refused = refusal("list", error);
        if (refused) return fail(refused);
        const delay = delays.next().value!;
        log.warn(`listing this run's Jobs in ${where} failed (${apiErrorMessage(error)}); retrying in ${delay}ms`);
        retryIn(delay, listAndWatch);
      }
    };

    const listAndWatch = async () => {
      const list = namespace
        ? await kube.batch.listNamespacedJob({ namespace, labelSelector: options.selector })
        : await kube.batch.listJobForAllNamespaces({ labelSelector: options.selector });
      for (const job of list.items) onEvent("MODIFIED", job);
      await watchJobs(list.metadata?.resourceVersion ?? "");
    };

    return {
      start: () => establishWatch(listAndWatch),
      stop: () => {
        abort?.abort();
        clearTimeout(retry);
      },
    };
  };
  const namespaces = options.namespaced ? [...new Set(jobs.map((job) => job.metadata!.namespace!))] : [undefined];
  const watches = namespaces.map(watchScope);

  /** Stops as a cancel does (the unfinished Jobs deleted, each reported); run() then rejects with `error`. */
  const fail = (error: KkError) => {
    if (fatal) return;
    fatal = error;
    void stopAll("cancelled: the run stopped on an API error");
  };

  /** Start nothing new; record the queued Jobs as not started and delete the unfinished ones. */
  const stopAll = async (reason: string) => {
    stopping = true;
    // Queued Jobs first, before anything awaits: the pool must not report itself done while
    // they are unrecorded, and their outcomes let, among others, their pods' post-backup hooks run.
    for (const item of queue.splice(0)) record({ job: item.job, target: item.target, result: "cancelled", message: "not started (cancelled)", durationSeconds: 0 });
    const unfinished = [...active.keys()];
    await Promise.all(unfinished.map((key) => finish(key, "cancelled", { message: `${reason}; Job deleted` })));
    await fill();
  };

  /** Runs the pool; yields each outcome as its Job ends, and rejects at the end if the API refused the pool. */
  async function* outcomes(): AsyncGenerator<JobOutcome<Target, Summary>> {
    if (work.length === 0) return;
    const cancel = () => void stopAll("cancelled by signal");
    options.signal.addEventListener("abort", cancel, { once: true });
    try {
      await Promise.all(watches.map((watch) => watch.start()));
      if (options.signal.aborted) cancel();
      else await fill();
      while (ready.length > 0 || !done) {
        if (ready.length === 0) await new Promise<void>((resolve) => (wakeReader = resolve));
        while (ready.length > 0) yield ready.shift()!;
      }
    } finally {
      options.signal.removeEventListener("abort", cancel);
    }
    if (fatal) throw fatal;
  }

  return { outcomes };
}

const hasCondition = (job: V1Job, type: "Complete" | "Failed") => (job.status?.conditions ?? []).some((c) => c.type === type && c.status === "True");
const hasEnded = (job: V1Job) => hasCondition(job, "Complete") || hasCondition(job, "Failed");

async function newestPod(kube: Kube, job: V1Job): Promise<V1Pod | undefined> {
  const pods = await kube.core.listNamespacedPod({ namespace: job.metadata!.namespace!, labelSelector: `batch.kubernetes.io/job-name=${job.metadata!.name}` });
  return pods.items.sort((a, b) => String(b.metadata?.creationTimestamp ?? "").localeCompare(String(a.metadata?.creationTimestamp ?? "")))[0];
}

async function deleteJob(kube: Kube, job: V1Job): Promise<void> {
  try {
    await kube.batch.deleteNamespacedJob({ name: job.metadata!.name!, namespace: job.metadata!.namespace!, propagationPolicy: "Background" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

function parseSummary<Summary>(message: string | undefined): Summary | undefined {
  if (!message?.trim().startsWith("{")) return undefined;
  try {
    return JSON.parse(message) as Summary;
  } catch {
    return undefined;
  }
}

function failureMessage(result: JobResult, terminationMessage: string | undefined, summary: { message: string } | undefined): string | undefined {
  if (result === "success") return undefined;
  if (summary) return summary.message;
  return terminationMessage?.trim().split("\n").slice(-3).map(logLineText).join(" | ") || undefined;
}

/** A JSON log line (the Jobs log in JSON) as its message alone; any other line as it is. */
function logLineText(line: string): string {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown };
    if (typeof parsed.msg === "string") return parsed.msg;
  } catch {
    // not a JSON log line
  }
  return line;
}
