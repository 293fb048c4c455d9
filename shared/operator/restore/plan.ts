import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { ExitCode, KkError, usageError } from "../../exit-codes.ts";
import type { RestoreSummary } from "../../restore/summary.ts";
import type { ClaimOverrides, PvcRef } from "../operator-restore-options.ts";
import { claimTemplate, type ClaimBasis } from "./claim-template.ts";
import type { RestoreTarget } from "./job-spec.ts";
import type { TargetState } from "./target-state.ts";

/** How a restore treats pods that mount its PVC. */
export type MountedPolicy = "refuse" | "scale-down" | "allow-running";

/** What one restore will do, decided before anything changes. */
export interface TargetPlan {
  target: PvcRef;
  createNamespace: boolean;
  create?: { pvc: V1PersistentVolumeClaim; basis: ClaimBasis };
  /** Pods that mount the existing PVC, and what is done about them. */
  mountedBy: string[];
  whileMounted?: Exclude<MountedPolicy, "refuse">;
  restore: RestoreTarget;
}

const singleNode = (modes: string[] | undefined) => !modes?.length || modes.includes("ReadWriteOnce") || modes.includes("ReadWriteOncePod");

/**
 * Pure: the restore's plan from the pinned snapshot and the cluster's state. A namespace that is
 * missing without permission to create it is bad input (2); pods that mount the PVC without
 * --scale-down or --allow-running are a refusal (9), its message completed by the caller with
 * the command that stops them.
 */
export function planTarget(input: {
  source: PvcRef;
  target: PvcRef;
  pinned: RestoreSummary;
  state: TargetState;
  subpath?: string;
  mayCreateNamespace: boolean;
  whenMounted: MountedPolicy;
  claimOverrides: ClaimOverrides;
  /** The command that stops the pods that mount the PVC, for the refusal to print. */
  stopCommand?: string;
}): TargetPlan {
  const { source, target, pinned, state } = input;
  const where = `${target.namespace}/${target.pvc}`;
  if (!state.namespaceExists && !input.mayCreateNamespace) throw usageError(`--to-namespace: namespace ${target.namespace} does not exist; add --create-namespace to create it`);
  const mountedBy = state.mountingPods.map((pod) => pod.metadata!.name!);
  if (mountedBy.length && input.whenMounted === "refuse") {
    throw new KkError(`${where} is mounted by running pods ${mountedBy.join(", ")}; nothing was written. Stop them${input.stopCommand ? ` (${input.stopCommand})` : ""}, or add --scale-down (scaled back after success) or --allow-running`, ExitCode.refused);
  }
  const modes = state.existing?.spec?.accessModes;
  if (mountedBy.length && input.whenMounted === "allow-running" && modes?.includes("ReadWriteOncePod")) {
    throw new KkError(`${where} is ReadWriteOncePod and held by pod ${mountedBy[0]}: no restore Job can mount it beside the app; use --scale-down`, ExitCode.refused);
  }
  const appPod = input.whenMounted === "allow-running" && singleNode(modes) ? state.mountingPods.find((pod) => pod.spec?.nodeName) : undefined;
  const pvNodeAffinity = state.pv?.spec?.nodeAffinity?.required;
  const restoredFrom = `${pinned.source ?? `${source.pvc}@${source.namespace}`} snapshot ${pinned.snapshotId} (${pinned.snapshotTime})`;
  const create = state.existing ? undefined : claimTemplate(target, { ...(state.original ? { original: state.original } : {}), ...(pinned.claim ? { recorded: pinned.claim } : {}) }, input.claimOverrides, restoredFrom);
  return {
    target,
    createNamespace: !state.namespaceExists,
    ...(create ? { create } : {}),
    mountedBy,
    ...(mountedBy.length ? { whileMounted: input.whenMounted as Exclude<MountedPolicy, "refuse"> } : {}),
    restore: {
      ...target,
      source,
      snapshotId: pinned.snapshotId!,
      ...(input.subpath ? { subpath: input.subpath } : {}),
      ...(appPod ? { node: appPod.spec!.nodeName! } : {}),
      ...(!appPod && pvNodeAffinity ? { pvNodeAffinity } : {}),
      tolerations: appPod?.spec?.tolerations ?? [],
    },
  };
}

/** The plan in words: what --dry-run prints, and what every run logs before it acts. */
export function describeTargetPlan(plan: TargetPlan, pinned: RestoreSummary, verb: "would" | "will"): string[] {
  const where = `${plan.target.namespace}/${plan.target.pvc}`;
  const lines = [`snapshot ${pinned.snapshotId} of ${pinned.source}, started ${pinned.snapshotTime}: ${pinned.subpath ?? "everything"}, ${pinned.expectedFiles ?? "?"} files`];
  if (plan.createNamespace) lines.push(`  ${verb} create namespace ${plan.target.namespace}`);
  if (plan.create) {
    const spec = plan.create.pvc.spec!;
    lines.push(`  ${verb} create PVC ${where} from the ${plan.create.basis}: ${spec.resources!.requests!.storage}, ${spec.accessModes!.join(",")}, storage class ${spec.storageClassName ?? "(the cluster's default)"}`);
  }
  if (plan.whileMounted === "scale-down") lines.push(`  ${verb} scale down what runs pods ${plan.mountedBy.join(", ")}, wait until they are gone, and scale it back only after success`);
  if (plan.whileMounted === "allow-running") lines.push(`  ${verb} restore while pods ${plan.mountedBy.join(", ")} mount it`);
  const node = plan.restore.node ? `on node ${plan.restore.node}` : plan.restore.pvNodeAffinity ? "where its PV's node affinity allows" : "on any node";
  lines.push(`  ${verb} restore into ${plan.create ? "the new" : "the existing"} PVC ${where}${plan.restore.subpath ? ` at ${plan.restore.subpath}` : ""} ${node}`);
  return lines;
}
