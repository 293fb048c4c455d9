import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { apiCall, httpStatusOf, isNotFound, type Kube } from "../client.ts";
import type { PvcRef } from "../operator-restore-options.ts";
import { podsMounting } from "./mounting-pods.ts";

/** What the cluster holds of a restore's target and source, read before anything is changed. */
export interface TargetState {
  namespaceExists: boolean;
  /** The target PVC, when it exists: restored in place. */
  existing?: V1PersistentVolumeClaim;
  /** The backed-up PVC, when it still exists: a new PVC copies its spec. */
  original?: V1PersistentVolumeClaim;
  /** The existing PVC's bound PV (for its node affinity), when this identity may read PVs. */
  pv?: V1PersistentVolume;
  /** Pods not yet ended that mount the existing PVC. */
  mountingPods: V1Pod[];
}

/** Reads return undefined for what does not exist; any other failure ends the run naming the right to grant. */
async function orAbsent<T>(call: () => Promise<T>, what: { verb: string; resource: string; namespace?: string }): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    return apiCall(() => Promise.reject(error), what);
  }
}

export async function inspectTarget(kube: Kube, target: PvcRef, source: PvcRef): Promise<TargetState> {
  const namespace = await orAbsent(() => kube.core.readNamespace({ name: target.namespace }), { verb: "get", resource: "namespaces" });
  if (!namespace) return { namespaceExists: false, mountingPods: [], ...(await originalOf(kube, target, source)) };
  const existing = await orAbsent(() => kube.core.readNamespacedPersistentVolumeClaim({ namespace: target.namespace, name: target.pvc }), { verb: "get", resource: "persistentvolumeclaims", namespace: target.namespace });
  const pods = existing ? (await apiCall(() => kube.core.listNamespacedPod({ namespace: target.namespace }), { verb: "list", resource: "pods", namespace: target.namespace })).items : [];
  // PVs are cluster-scoped: an identity without that right restores all the same (the scheduler still honours the PV's node affinity).
  const pv = existing?.spec?.volumeName
    ? await kube.core.readPersistentVolume({ name: existing.spec.volumeName }).catch((error) => (httpStatusOf(error) === 403 || isNotFound(error) ? undefined : apiCall(() => Promise.reject(error), { verb: "get", resource: "persistentvolumes" })))
    : undefined;
  return {
    namespaceExists: true,
    ...(existing ? { existing } : {}),
    ...(pv ? { pv } : {}),
    mountingPods: podsMounting(pods, target.pvc),
    ...(existing ? {} : await originalOf(kube, target, source)),
  };
}

async function originalOf(kube: Kube, target: PvcRef, source: PvcRef): Promise<{ original?: V1PersistentVolumeClaim }> {
  if (target.namespace === source.namespace && target.pvc === source.pvc) return {};
  const original = await orAbsent(() => kube.core.readNamespacedPersistentVolumeClaim({ namespace: source.namespace, name: source.pvc }), { verb: "get", resource: "persistentvolumeclaims", namespace: source.namespace });
  return original ? { original } : {};
}
