import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { ClaimRecord } from "../../claim-tags.ts";
import { usageError } from "../../exit-codes.ts";
import { LABEL_MANAGED_BY, MANAGED_BY } from "../names.ts";
import type { ClaimOverrides, PvcRef } from "../operator-restore-options.ts";

/** On a PVC operator-restore created: the source and snapshot it was restored from. */
export const ANNOTATION_RESTORED_FROM = "kopia-k8s.io/restored-from";

/** Where a new PVC's spec came from: the original PVC, the claim the backup recorded, or the flags alone. */
export type ClaimBasis = "original PVC" | "backup's record" | "flags";

/**
 * The PVC to create for a restore: the original PVC's spec when it still exists, else the claim
 * the backup recorded in its tags, else the flags; each flag overrides either. Never a volumeName
 * or node: with a WaitForFirstConsumer class, the restore Job is the first consumer and decides.
 */
export function claimTemplate(
  target: PvcRef,
  known: { original?: V1PersistentVolumeClaim; recorded?: ClaimRecord },
  overrides: ClaimOverrides,
  restoredFrom: string,
): { pvc: V1PersistentVolumeClaim; basis: ClaimBasis } {
  const original = known.original?.spec;
  const recorded = known.recorded;
  const size = overrides.size ?? stringOf(original?.resources?.requests?.storage) ?? recorded?.size;
  if (size === undefined) {
    throw usageError(`--size: ${target.namespace}/${target.pvc} must be created, and neither an original PVC nor the backup says how big; give --size, e.g. --size 10Gi`);
  }
  const storageClass = overrides.storageClass ?? original?.storageClassName ?? recorded?.storageClass;
  const accessModes = overrides.accessModes ?? (original?.accessModes?.length ? original.accessModes : undefined) ?? (recorded?.accessModes.length ? recorded.accessModes : undefined) ?? ["ReadWriteOnce"];
  const volumeMode = original?.volumeMode ?? recorded?.volumeMode;
  const basis: ClaimBasis = original ? "original PVC" : recorded?.size || recorded?.accessModes.length || recorded?.storageClass ? "backup's record" : "flags";
  return {
    basis,
    pvc: {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: {
        name: target.pvc,
        namespace: target.namespace,
        labels: { ...known.original?.metadata?.labels, [LABEL_MANAGED_BY]: MANAGED_BY },
        annotations: { [ANNOTATION_RESTORED_FROM]: restoredFrom },
      },
      spec: {
        accessModes,
        resources: { requests: { storage: size } },
        ...(storageClass ? { storageClassName: storageClass } : {}),
        ...(volumeMode ? { volumeMode } : {}),
      },
    },
  };
}

const stringOf = (quantity: unknown) => (quantity === undefined || quantity === null ? undefined : String(quantity));
