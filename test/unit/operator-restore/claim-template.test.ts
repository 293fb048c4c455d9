import { describe, expect, test } from "bun:test";
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { ANNOTATION_RESTORED_FROM, claimTemplate } from "../../../shared/operator/restore/claim-template.ts";
import { usageErrorOf } from "../../support/unit.ts";

const target = { namespace: "staging", pvc: "data-copy" };
const original: V1PersistentVolumeClaim = {
  metadata: { name: "data", namespace: "apps", labels: { app: "db" }, annotations: { "pv.kubernetes.io/bind-completed": "yes" } },
  spec: { accessModes: ["ReadWriteMany"], storageClassName: "nfs", volumeMode: "Filesystem", volumeName: "pv-123", resources: { requests: { storage: "20Gi" } } },
};
const recorded = { size: "10Gi", storageClass: "local-path", accessModes: ["ReadWriteOnce"], fsGroup: 1000 };
const FROM = "data@apps:/data snapshot abc (2026-05-01T03:00:00Z)";

describe("claimTemplate: the PVC a restore creates", () => {
  test("from the original PVC when it exists: its size, class, modes, volume mode and labels; never its volume or binding annotations", () => {
    const { pvc, basis } = claimTemplate(target, { original, recorded }, {}, FROM);
    expect(basis).toBe("original PVC");
    expect(pvc.metadata).toEqual({ name: "data-copy", namespace: "staging", labels: { app: "db", "app.kubernetes.io/managed-by": "kopia-k8s" }, annotations: { [ANNOTATION_RESTORED_FROM]: FROM } });
    expect(pvc.spec).toEqual({ accessModes: ["ReadWriteMany"], storageClassName: "nfs", volumeMode: "Filesystem", resources: { requests: { storage: "20Gi" } } });
  });

  test("from the backup's record (the snapshot's tags) when the original is gone", () => {
    const { pvc, basis } = claimTemplate(target, { recorded }, {}, FROM);
    expect(basis).toBe("backup's record");
    expect(pvc.spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "local-path", resources: { requests: { storage: "10Gi" } } });
  });

  test("flags override either source, one field at a time", () => {
    expect(claimTemplate(target, { original }, { size: "50Gi" }, FROM).pvc.spec).toMatchObject({ storageClassName: "nfs", resources: { requests: { storage: "50Gi" } } });
    expect(claimTemplate(target, { recorded }, { storageClass: "fast", accessModes: ["ReadWriteOncePod"] }, FROM).pvc.spec).toEqual({ accessModes: ["ReadWriteOncePod"], storageClassName: "fast", resources: { requests: { storage: "10Gi" } } });
  });

  test("from flags alone: ReadWriteOnce and the cluster's default class unless told", () => {
    const { pvc, basis } = claimTemplate(target, { recorded: { accessModes: [] } }, { size: "1Gi" }, FROM);
    expect(basis).toBe("flags");
    expect(pvc.spec).toEqual({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } });
  });

  test("nothing says how big: exit 2 asking for --size", () => {
    const error = usageErrorOf(() => claimTemplate(target, { recorded: { accessModes: ["ReadWriteOnce"] } }, {}, FROM));
    expect(error.message).toBe("--size: staging/data-copy must be created, and neither an original PVC nor the backup says how big; give --size, e.g. --size 10Gi");
  });
});
