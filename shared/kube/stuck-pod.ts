import type { V1Pod } from "@kubernetes/client-node";

/** Waiting reasons that waiting does not cure: a wrong image, a missing Secret or ConfigMap. */
const STUCK_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"]);

/** Why the pod's containers cannot start, in the kubelet's words; undefined while they may still. */
export function stuckReason(pod: V1Pod | undefined): string | undefined {
  for (const status of pod?.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason)) return waiting.message ? `${waiting.reason}: ${waiting.message}` : waiting.reason;
  }
  return undefined;
}

/**
 * How long after its start a Job whose pod is not ready yet is looked at: long enough for the
 * kubelet to retry (a per-Job Secret created just after its Job is briefly "not found"), well
 * before --pending-timeout, so that a mistyped image costs a minute, not the full timeout.
 */
export const stuckCheckDelayMs = (pendingTimeoutMs: number): number => Math.min(60_000, pendingTimeoutMs / 2);
