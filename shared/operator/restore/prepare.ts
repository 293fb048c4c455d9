import { ApiException } from "@kubernetes/client-node";
import { ExitCode, KkError } from "../../exit-codes.ts";
import { log } from "../../log.ts";
import type { RestoreSummary } from "../../restore/summary.ts";
import { apiCall, type Kube } from "../client.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../names.ts";
import type { OperatorRestoreSettings, PvcRef } from "../operator-restore-options.ts";
import { stopCommand, workloadName, type Workload } from "./mounting-pods.ts";
import { planTarget, type TargetPlan } from "./plan.ts";
import { inspectTarget } from "./target-state.ts";
import { ownersOf, scaleBackCommand, scaleDown, waitUntilUnmounted } from "./workloads.ts";

/** A restore's plan, and the workloads --scale-down stops for it. */
export interface PlannedRestore {
  plan: TargetPlan;
  pinned: RestoreSummary;
  workloads: Workload[];
}

type PlanSettings = Pick<OperatorRestoreSettings, "all" | "createNamespace" | "scaleDown" | "allowRunning" | "claimOverrides" | "subpath">;

/** Reads the target's state (namespace, PVC, pods, PV) and decides; changes nothing. */
export async function planRestore(kube: Kube, settings: PlanSettings, source: PvcRef, target: PvcRef, pinned: RestoreSummary): Promise<PlannedRestore> {
  const state = await inspectTarget(kube, target, source);
  const owners = state.mountingPods.length ? await ownersOf(kube, target.namespace, state.mountingPods) : { workloads: [], unowned: [] };
  if (settings.scaleDown && owners.unowned.length) {
    throw new KkError(`--scale-down: pods ${owners.unowned.join(", ")} mount ${target.namespace}/${target.pvc} and belong to no Deployment or StatefulSet; stop them yourself (${stopCommand(target.namespace, [], owners.unowned)}); nothing was written`, ExitCode.refused);
  }
  const plan = planTarget({
    source, target, pinned, state,
    ...(settings.subpath ? { subpath: settings.subpath } : {}),
    mayCreateNamespace: settings.all || settings.createNamespace,
    whenMounted: settings.scaleDown ? "scale-down" : settings.allowRunning ? "allow-running" : "refuse",
    claimOverrides: settings.claimOverrides,
    stopCommand: stopCommand(target.namespace, owners.workloads, owners.unowned),
  });
  return { plan, pinned, workloads: plan.whileMounted === "scale-down" ? owners.workloads : [] };
}

/** Makes the plan's changes before its Job: the namespace, the workloads scaled to 0 (waiting until their pods are gone), the new PVC. */
export async function prepareTarget(kube: Kube, planned: PlannedRestore, waitMs: number, signal: AbortSignal): Promise<void> {
  const { target } = planned.plan;
  if (planned.plan.createNamespace) {
    await createUnlessExists(() => kube.core.createNamespace({ body: { metadata: { name: target.namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY } } } }), { verb: "create", resource: "namespaces" });
    log.info(`created namespace ${target.namespace}`);
  }
  if (planned.workloads.length) {
    await scaleDown(kube, target.namespace, planned.workloads);
    await waitUntilUnmounted(kube, target.namespace, target.pvc, waitMs, signal).catch((error) => {
      log.warn(`${planned.workloads.map(workloadName).join(", ")} in ${target.namespace} stay at 0 replicas (no restore ran); to bring them back: ${scaleBackCommand(target.namespace, planned.workloads)}`);
      throw error;
    });
  }
  if (planned.plan.create) {
    await apiCall(() => kube.core.createNamespacedPersistentVolumeClaim({ namespace: target.namespace, body: planned.plan.create!.pvc }), { verb: "create", resource: "persistentvolumeclaims", namespace: target.namespace });
    log.info(`created PVC ${target.namespace}/${target.pvc} from the ${planned.plan.create.basis}`);
  }
}

/** A namespace made meanwhile (another restore of this run) is as good as one made here. */
async function createUnlessExists(create: () => Promise<unknown>, what: { verb: string; resource: string }): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (error instanceof ApiException && error.code === 409) return;
    await apiCall(() => Promise.reject(error), what);
  }
}
