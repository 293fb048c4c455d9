import type { V1NodeSelector, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Toleration, V1Volume } from "@kubernetes/client-node";
import type { ClaimRecord } from "../claim-tags.ts";
import { KkError } from "../exit-codes.ts";
import { parseDuration } from "../options.ts";
import { ANNOTATION_BACKUP, LABEL_MANAGED_BY, MANAGED_BY } from "./names.ts";

export interface HookPlan {
  namespace: string;
  pod: string;
  container: string;
  /** The pod's containers, to name the choices when the annotated one does not exist. */
  containers: string[];
  command: string;
  timeoutMs: number;
  /** What a failure of this pod's pre-backup hook does: end the run, or skip this pod's volumes. */
  onError: HookOnError;
  /** Why the hook cannot run (an annotation that cannot be read, a container that is not running): it fails with this. */
  problem?: string;
}

export const HOOK_ON_ERROR = ["abort", "continue"] as const;
export type HookOnError = (typeof HOOK_ON_ERROR)[number];

/** One PVC to back up, and where its Job must run. */
export interface BackupTarget {
  namespace: string;
  pvc: string;
  /** The node of the running pod that mounts a ReadWriteOnce volume: the Job must run there. */
  node?: string;
  /** For a volume no pod mounts: the PV's own node affinity (e.g. local volumes). */
  pvNodeAffinity?: V1NodeSelector;
  tolerations: V1Toleration[];
  /** Pods (namespace-local names) that mount it. */
  mountedBy: string[];
  /** The claim as its snapshots record it (Kopia tags), for a restore into an empty cluster. */
  claim: ClaimRecord;
  /** Set when the volume cannot be backed up now; the run counts it failed without a Job. */
  problem?: string;
}

export interface Skipped {
  namespace: string;
  name: string;
  reason: string;
}

export interface BackupPlan {
  preHooks: HookPlan[];
  postHooks: HookPlan[];
  targets: BackupTarget[];
  skipped: Skipped[];
}

export interface PlanOptions {
  /** Only these namespaces (empty: all). */
  namespaces: string[];
  /** A pod selector was given: only the selected pods' PVCs, none unmounted. */
  podSelectorGiven: boolean;
  preBackupAnnotation: string;
  postBackupAnnotation: string;
  defaultHookTimeoutMs: number;
  defaultHookOnError: HookOnError;
}

const optedOut = (annotations: Record<string, string> | undefined) => annotations?.[ANNOTATION_BACKUP]?.toLowerCase() === "false";
const key = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * Decides what a run does, from one list of running pods, PVCs and PVs each. Pure: everything
 * here is tested without a cluster.
 */
export function planBackups(pods: V1Pod[], pvcs: V1PersistentVolumeClaim[], pvs: V1PersistentVolume[], options: PlanOptions): BackupPlan {
  const inScope = (namespace: string) => options.namespaces.length === 0 || options.namespaces.includes(namespace);
  const skipped: Skipped[] = [];
  const pvcsByKey = new Map(pvcs.map((pvc) => [key(pvc.metadata!.namespace!, pvc.metadata!.name!), pvc]));
  const pvsByName = new Map(pvs.map((pv) => [pv.metadata!.name!, pv]));
  const targets = new Map<string, BackupTarget>();
  const preHooks: HookPlan[] = [];
  const postHooks: HookPlan[] = [];

  const runningPods = pods
    .filter((pod) => pod.status?.phase === "Running" && inScope(pod.metadata!.namespace!))
    .filter((pod) => pod.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY)
    .sort((a, b) => key(a.metadata!.namespace!, a.metadata!.name!).localeCompare(key(b.metadata!.namespace!, b.metadata!.name!)));

  for (const pod of runningPods) {
    const namespace = pod.metadata!.namespace!;
    const podName = pod.metadata!.name!;
    if (optedOut(pod.metadata?.annotations)) {
      skipped.push({ namespace, name: `pod/${podName}`, reason: `annotated ${ANNOTATION_BACKUP}=false` });
      continue;
    }
    // A pod that is shutting down gets no hooks (its app may be gone any moment); its volumes are backed up as the rest.
    if (!pod.metadata?.deletionTimestamp) {
      const pre = hookFromAnnotations(pod, options.preBackupAnnotation, options);
      if (pre) preHooks.push(pre);
      const post = hookFromAnnotations(pod, options.postBackupAnnotation, options);
      if (post) postHooks.push(post);
    }

    for (const volume of pod.spec?.volumes ?? []) {
      const claimName = claimOf(podName, volume);
      if (!claimName) continue;
      const pvc = pvcsByKey.get(key(namespace, claimName));
      if (!pvc || !backupable(pvc, skipped)) continue;
      const existing = targets.get(key(namespace, claimName));
      if (existing) {
        // The same claim through a second volume of this pod: already counted.
        if (existing.mountedBy.includes(podName)) continue;
        existing.mountedBy.push(podName);
        existing.tolerations.push(...newTolerations(existing.tolerations, pod.spec?.tolerations ?? []));
        continue;
      }
      const modes = pvc.spec?.accessModes ?? [];
      const singleNode = modes.includes("ReadWriteOnce") || modes.includes("ReadWriteOncePod") || modes.length === 0;
      targets.set(key(namespace, claimName), {
        namespace,
        pvc: claimName,
        ...(singleNode && pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
        tolerations: [...(pod.spec?.tolerations ?? [])],
        mountedBy: [podName],
        claim: claimRecord(pvc, pod),
        ...(modes.includes("ReadWriteOncePod")
          ? { problem: `ReadWriteOncePod volume is held by pod ${podName}; no second pod can mount it. Stop the pod during backups, or change the PVC's access mode to ReadWriteOnce` }
          : {}),
      });
    }
  }

  if (!options.podSelectorGiven) {
    for (const pvc of pvcs) {
      const namespace = pvc.metadata!.namespace!;
      const name = pvc.metadata!.name!;
      if (!inScope(namespace) || targets.has(key(namespace, name)) || pvc.status?.phase !== "Bound") continue;
      if (runningPods.some((pod) => pod.metadata!.namespace === namespace && optedOut(pod.metadata?.annotations) && mounts(pod, name))) continue;
      if (!backupable(pvc, skipped)) continue;
      const pvNodeAffinity = pvsByName.get(pvc.spec?.volumeName ?? "")?.spec?.nodeAffinity?.required;
      targets.set(key(namespace, name), { namespace, pvc: name, ...(pvNodeAffinity ? { pvNodeAffinity } : {}), tolerations: [], mountedBy: [], claim: claimRecord(pvc) });
    }
  }

  const sortedTargets = [...targets.values()].sort((a, b) => key(a.namespace, a.pvc).localeCompare(key(b.namespace, b.pvc)));
  return { preHooks, postHooks, targets: sortedTargets, skipped };
}

function backupable(pvc: V1PersistentVolumeClaim, skipped: Skipped[]): boolean {
  const namespace = pvc.metadata!.namespace!;
  const name = pvc.metadata!.name!;
  const already = skipped.some((entry) => entry.namespace === namespace && entry.name === `pvc/${name}`);
  let reason: string | undefined;
  if (optedOut(pvc.metadata?.annotations)) reason = `annotated ${ANNOTATION_BACKUP}=false`;
  else if (pvc.spec?.volumeMode === "Block") reason = "block volume (no filesystem to back up)";
  if (reason && !already) skipped.push({ namespace, name: `pvc/${name}`, reason });
  return !reason;
}

/** The PVC behind a pod volume: a claim, or the one a generic ephemeral volume makes (`<pod>-<volume>`). */
const claimOf = (podName: string, volume: V1Volume) => volume.persistentVolumeClaim?.claimName ?? (volume.ephemeral ? `${podName}-${volume.name}` : undefined);

const mounts = (pod: V1Pod, claimName: string) => (pod.spec?.volumes ?? []).some((volume) => claimOf(pod.metadata!.name!, volume) === claimName);

function newTolerations(existing: V1Toleration[], candidates: V1Toleration[]): V1Toleration[] {
  const seen = new Set(existing.map((toleration) => JSON.stringify(toleration)));
  return candidates.filter((toleration) => !seen.has(JSON.stringify(toleration)));
}

/**
 * `<key>` holds the command; `<key>-container`, `<key>-timeout` (a duration with unit) and
 * `<key>-on-error` (abort or continue) refine it. What cannot be read, or a container that is not
 * running, becomes the hook's problem: that pod's hook failure, not an error for the whole run.
 */
function hookFromAnnotations(pod: V1Pod, annotationKey: string, options: Pick<PlanOptions, "defaultHookTimeoutMs" | "defaultHookOnError">): HookPlan | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  const command = annotations[annotationKey];
  if (!command?.trim()) return undefined;
  const namespace = pod.metadata!.namespace!;
  const podName = pod.metadata!.name!;
  const container = annotations[`${annotationKey}-container`] ?? pod.spec?.containers[0]?.name ?? "";
  const problems: string[] = [];

  const timeoutText = annotations[`${annotationKey}-timeout`];
  let timeoutMs = options.defaultHookTimeoutMs;
  try {
    if (timeoutText !== undefined) timeoutMs = parseDuration(timeoutText, `pod ${namespace}/${podName}: annotation ${annotationKey}-timeout`);
  } catch (error) {
    if (!(error instanceof KkError)) throw error;
    problems.push(error.message);
  }
  const onErrorText = annotations[`${annotationKey}-on-error`];
  const onError = HOOK_ON_ERROR.find((value) => value === onErrorText?.trim().toLowerCase()) ?? options.defaultHookOnError;
  if (onErrorText !== undefined && onError !== onErrorText.trim().toLowerCase()) {
    problems.push(`pod ${namespace}/${podName}: annotation ${annotationKey}-on-error: '${onErrorText}' must be abort or continue`);
  }
  const notRunning = notRunningReason(pod, container);
  if (notRunning) problems.push(`pod ${namespace}/${podName}: container ${container} is not running (${notRunning}); the hook cannot run`);

  return {
    namespace,
    pod: podName,
    container,
    containers: (pod.spec?.containers ?? []).map((entry) => entry.name),
    command,
    timeoutMs,
    onError,
    ...(problems.length ? { problem: problems.join("; ") } : {}),
  };
}

/** Why a container that has a status is not running (e.g. CrashLoopBackOff); undefined when it runs or reports nothing. */
function notRunningReason(pod: V1Pod, container: string): string | undefined {
  const state = pod.status?.containerStatuses?.find((status) => status.name === container)?.state;
  if (!state || state.running) return undefined;
  return state.waiting?.reason ?? (state.terminated ? `terminated: ${state.terminated.reason ?? `exit ${state.terminated.exitCode}`}` : "not started");
}

/**
 * The targets left once the pods whose pre-backup hook failed are set aside: a volume any of them
 * mounts is not backed up (its app may be half-frozen), and is reported with the reason.
 */
export function withoutPodsOf(failedHooks: HookPlan[], targets: BackupTarget[]): { toBackUp: BackupTarget[]; blocked: BackupTarget[] } {
  const failedPod = (target: BackupTarget) => target.mountedBy.find((pod) => failedHooks.some((hook) => hook.namespace === target.namespace && hook.pod === pod));
  const blocked = targets.flatMap((target) => {
    const pod = failedPod(target);
    return pod ? [{ ...target, problem: `not started: the pre-backup hook of pod ${target.namespace}/${pod} failed (on error: continue)` }] : [];
  });
  return { toBackUp: targets.filter((target) => !failedPod(target)), blocked };
}

/** What the claim asked for, and the owners its first mounting pod gives files. */
function claimRecord(pvc: V1PersistentVolumeClaim, pod?: V1Pod): ClaimRecord {
  const size = pvc.spec?.resources?.requests?.storage ?? pvc.status?.capacity?.storage;
  const security = pod?.spec?.securityContext;
  return {
    accessModes: pvc.spec?.accessModes ?? [],
    ...(size !== undefined ? { size: String(size) } : {}),
    ...(pvc.spec?.storageClassName ? { storageClass: pvc.spec.storageClassName } : {}),
    ...(pvc.spec?.volumeMode ? { volumeMode: pvc.spec.volumeMode } : {}),
    ...(security?.fsGroup !== undefined ? { fsGroup: security.fsGroup } : {}),
    ...(security?.runAsUser !== undefined ? { runAsUser: security.runAsUser } : {}),
  };
}
