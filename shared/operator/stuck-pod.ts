import type { CoreV1Event, V1Job, V1Pod } from "@kubernetes/client-node";
import type { Kube } from "./client.ts";

/** Waiting reasons that waiting does not cure: a wrong image, a missing Secret or ConfigMap. */
const STUCK_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"]);

/**
 * Why the pod cannot start, in the kubelet's or the scheduler's words; undefined while it may still.
 * A pod pinned to one node that the scheduler cannot place there (say, the node got a NoSchedule
 * taint after the app started) will never run: nothing else can place it.
 */
export function stuckReason(pod: V1Pod | undefined): string | undefined {
  const scheduled = pod?.status?.conditions?.find((condition) => condition.type === "PodScheduled");
  if (pod && scheduled?.status === "False" && scheduled.reason === "Unschedulable" && pinnedToOneNode(pod)) {
    return `Unschedulable on its pinned node: ${scheduled.message ?? "the scheduler gave no reason"}`;
  }
  for (const status of pod?.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) return waiting.message ? `${waiting.reason}: ${waiting.message}` : waiting.reason;
  }
  return undefined;
}

const pinnedToOneNode = (pod: V1Pod) =>
  (pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).some((term) =>
    (term.matchFields ?? []).some((field) => field.key === "metadata.name" && field.values?.length === 1),
  );

/**
 * How long after its start a Job whose pod is not ready yet is looked at: long enough for the
 * kubelet to retry (a per-Job Secret created just after its Job is briefly "not found"), well
 * before --pending-timeout, so that a mistyped image costs a minute, not the full timeout.
 */
export const stuckCheckDelayMs = (pendingTimeoutMs: number): number => Math.min(60_000, pendingTimeoutMs / 2);

/**
 * Why the Job controller could not create the Job's pod (Pod Security admission, a ResourceQuota, a
 * webhook), from its FailedCreate event: no pod means no status to read, and retrying does not
 * help. Undefined when there is none, or events cannot be read (the run then waits for
 * --pending-timeout, as before).
 */
export async function podCreationRefusal(kube: Kube, job: V1Job): Promise<string | undefined> {
  const events = await kube.core
    .listNamespacedEvent({ namespace: job.metadata!.namespace!, fieldSelector: `involvedObject.uid=${job.metadata!.uid},reason=FailedCreate` })
    .catch(() => undefined);
  const latest = events?.items.sort((a, b) => eventTime(b) - eventTime(a))[0];
  return latest?.message ? `FailedCreate: ${latest.message}` : undefined;
}

const eventTime = (event: CoreV1Event) => new Date(event.lastTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp ?? 0).getTime();
