import type { V1Pod } from "@kubernetes/client-node";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../names.ts";

/**
 * The pods that hold the PVC mounted, or are about to: every pod not yet ended (Pending, Running, or
 * shutting down) whose volumes name the claim, or make it as a generic ephemeral volume. kopia-k8s's
 * own Jobs' pods are not the app.
 */
export function podsMounting(pods: V1Pod[], pvc: string): V1Pod[] {
  return pods.filter((pod) => {
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return false;
    if (pod.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY) return false;
    return (pod.spec?.volumes ?? []).some((volume) => (volume.persistentVolumeClaim?.claimName ?? (volume.ephemeral ? `${pod.metadata!.name}-${volume.name}` : undefined)) === pvc);
  });
}

/** A Deployment or StatefulSet that owns pods, as kubectl names it. */
export interface Workload {
  kind: "Deployment" | "StatefulSet";
  name: string;
}

export const workloadName = (workload: Workload) => `${workload.kind.toLowerCase()}/${workload.name}`;

/** The command that stops the pods, for a refusal to print. */
export function stopCommand(namespace: string, workloads: Workload[], unowned: string[]): string {
  const scale = workloads.length ? `kubectl -n ${namespace} scale ${workloads.map(workloadName).join(" ")} --replicas=0` : "";
  const remove = unowned.length ? `kubectl -n ${namespace} delete pod ${unowned.join(" ")}` : "";
  return [scale, remove].filter(Boolean).join(" && ");
}
