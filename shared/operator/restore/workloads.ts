import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { ExitCode, KkError } from "../../exit-codes.ts";
import { log } from "../../log.ts";
import { apiCall, isNotFound, type Kube } from "../client.ts";
import { podsMounting, workloadName, type Workload } from "./mounting-pods.ts";

/** On a workload operator-restore scaled to 0: its replica count before, until it is scaled back. */
export const ANNOTATION_RESTORE_REPLICAS = "kopia-k8s.io/restore-replicas";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** The Deployments and StatefulSets that own the pods (a Deployment's pods through their ReplicaSet); pods owned by neither are named apart. */
export async function ownersOf(kube: Kube, namespace: string, pods: V1Pod[]): Promise<{ workloads: Workload[]; unowned: string[] }> {
  const workloads = new Map<string, Workload>();
  const unowned: string[] = [];
  for (const pod of pods) {
    const owner = pod.metadata?.ownerReferences?.find((reference) => reference.controller);
    let workload: Workload | undefined;
    if (owner?.kind === "StatefulSet") workload = { kind: "StatefulSet", name: owner.name };
    if (owner?.kind === "ReplicaSet") {
      const replicaSet = await apiCall(() => kube.apps.readNamespacedReplicaSet({ namespace, name: owner.name }), { verb: "get", resource: "replicasets", group: "apps", namespace });
      const deployment = replicaSet.metadata?.ownerReferences?.find((reference) => reference.controller && reference.kind === "Deployment");
      if (deployment) workload = { kind: "Deployment", name: deployment.name };
    }
    if (workload) workloads.set(workloadName(workload), workload);
    else unowned.push(pod.metadata!.name!);
  }
  return { workloads: [...workloads.values()], unowned };
}

const resourceOf = (workload: Workload) => (workload.kind === "Deployment" ? "deployments" : "statefulsets");

async function readWorkload(kube: Kube, namespace: string, workload: Workload) {
  const where = { namespace, name: workload.name };
  return apiCall(() => (workload.kind === "Deployment" ? kube.apps.readNamespacedDeployment(where) : kube.apps.readNamespacedStatefulSet(where)), { verb: "get", resource: resourceOf(workload), group: "apps", namespace });
}

async function patchWorkload(kube: Kube, namespace: string, workload: Workload, body: object) {
  const where = { namespace, name: workload.name, body };
  await apiCall(() => (workload.kind === "Deployment" ? kube.apps.patchNamespacedDeployment(where, mergePatch) : kube.apps.patchNamespacedStatefulSet(where, mergePatch)), { verb: "patch", resource: resourceOf(workload), group: "apps", namespace });
}

async function setReplicas(kube: Kube, namespace: string, workload: Workload, replicas: number) {
  const where = { namespace, name: workload.name, body: { spec: { replicas } } };
  const resource = `${resourceOf(workload)}/scale`;
  await apiCall(() => (workload.kind === "Deployment" ? kube.apps.patchNamespacedDeploymentScale(where, mergePatch) : kube.apps.patchNamespacedStatefulSetScale(where, mergePatch)), { verb: "patch", resource, group: "apps", namespace });
}

/**
 * Scales each workload to 0 through its /scale subresource, its count remembered first in an
 * annotation on it. One already annotated (an earlier restore left it at 0) keeps its first count.
 */
export async function scaleDown(kube: Kube, namespace: string, workloads: Workload[]): Promise<void> {
  for (const workload of workloads) {
    const current = await readWorkload(kube, namespace, workload);
    const remembered = current.metadata?.annotations?.[ANNOTATION_RESTORE_REPLICAS];
    const replicas = remembered ?? String(current.spec?.replicas ?? 1);
    if (remembered === undefined) await patchWorkload(kube, namespace, workload, { metadata: { annotations: { [ANNOTATION_RESTORE_REPLICAS]: replicas } } });
    await setReplicas(kube, namespace, workload, 0);
    log.info(`scaled ${namespace}/${workloadName(workload)} to 0 (was ${replicas}; remembered in annotation ${ANNOTATION_RESTORE_REPLICAS})`);
  }
}

/** Back to the remembered count, the annotation removed: only after a successful restore. */
export async function scaleBack(kube: Kube, namespace: string, workloads: Workload[]): Promise<void> {
  for (const workload of workloads) {
    const current = await readWorkload(kube, namespace, workload);
    const replicas = Number(current.metadata?.annotations?.[ANNOTATION_RESTORE_REPLICAS] ?? "1");
    await setReplicas(kube, namespace, workload, replicas);
    await patchWorkload(kube, namespace, workload, { metadata: { annotations: { [ANNOTATION_RESTORE_REPLICAS]: null } } });
    log.success(`scaled ${namespace}/${workloadName(workload)} back to ${replicas}`);
  }
}

/** What to run by hand to undo --scale-down, for the message when a restore failed. */
export const scaleBackCommand = (namespace: string, workloads: Workload[]) =>
  workloads.map((workload) => `kubectl -n ${namespace} scale ${workloadName(workload)} --replicas=$(kubectl -n ${namespace} get ${workloadName(workload)} -o jsonpath='{.metadata.annotations.kopia-k8s\\.io/restore-replicas}')`).join(" && ");

/** Waits (polling the pod list) until no pod mounts the PVC; refuses after `timeoutMs`, nothing written. */
export async function waitUntilUnmounted(kube: Kube, namespace: string, pvc: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = await apiCall(() => kube.core.listNamespacedPod({ namespace }), { verb: "list", resource: "pods", namespace }).catch((error) => {
      if (isNotFound(error)) return { items: [] };
      throw error;
    });
    const mounting = podsMounting(pods.items, pvc);
    if (mounting.length === 0) return;
    if (signal.aborted) throw new KkError(`cancelled while waiting for ${mounting.length} pods to stop; nothing was written`, ExitCode.incomplete);
    if (Date.now() > deadline) {
      throw new KkError(`pods still mount ${namespace}/${pvc} ${Math.round(timeoutMs / 1000)}s after scaling down: ${mounting.map((pod) => pod.metadata!.name).join(", ")}; nothing was written`, ExitCode.refused);
    }
    await Bun.sleep(1000);
  }
}
