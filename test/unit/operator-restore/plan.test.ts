import { describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { KkError } from "../../../shared/exit-codes.ts";
import { podsMounting, stopCommand } from "../../../shared/operator/restore/mounting-pods.ts";
import { planTarget, type MountedPolicy } from "../../../shared/operator/restore/plan.ts";
import { restoreVerdict } from "../../../shared/operator/restore/report.ts";
import { pvcsOfSources } from "../../../shared/operator/restore/sources.ts";
import type { TargetState } from "../../../shared/operator/restore/target-state.ts";
import type { RestoreSummary } from "../../../shared/restore/summary.ts";

const pod = (name: string, claim: string, extra: Partial<V1Pod["spec"]> = {}, phase = "Running"): V1Pod => ({
  metadata: { name, namespace: "apps" },
  spec: { containers: [{ name: "app" }], volumes: [{ name: "v", persistentVolumeClaim: { claimName: claim } }], ...extra },
  status: { phase },
});
const pinned: RestoreSummary = { result: "dry-run", exitCode: 0, message: "", source: "data@apps:/data", snapshotId: "k1", snapshotTime: "2026-05-01T03:00:00Z", files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: 0, deleted: 0, errors: 0, durationSeconds: 1, claim: { size: "2Gi", accessModes: ["ReadWriteOnce"] } };
const source = { namespace: "apps", pvc: "data" };
const existing = { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], volumeName: "pv-1" } };

function plan(state: Partial<TargetState>, whenMounted: MountedPolicy = "refuse", mayCreateNamespace = false) {
  return planTarget({ source, target: source, pinned, state: { namespaceExists: true, mountingPods: [], ...state }, mayCreateNamespace, whenMounted, claimOverrides: {}, stopCommand: "kubectl -n apps scale deployment/web --replicas=0" });
}
const errorOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as KkError;
  }
  throw new Error("no error");
};

describe("planTarget: in place", () => {
  test("pods that mount the PVC refuse the restore (exit 9), naming them and the command that stops them", () => {
    const error = errorOf(() => plan({ existing, mountingPods: [pod("web-1", "data"), pod("web-2", "data")] }));
    expect(error.exitCode).toBe(9);
    expect(error.message).toBe("apps/data is mounted by running pods web-1, web-2; nothing was written. Stop them (kubectl -n apps scale deployment/web --replicas=0), or add --scale-down (scaled back after success) or --allow-running");
  });

  test("--allow-running pins a ReadWriteOnce restore to the app's node with its tolerations; ReadWriteOncePod is refused", () => {
    const app = pod("web-1", "data", { nodeName: "n2", tolerations: [{ key: "db", operator: "Exists" }] });
    const planned = plan({ existing, mountingPods: [app] }, "allow-running");
    expect(planned.restore).toMatchObject({ node: "n2", tolerations: [{ key: "db", operator: "Exists" }], snapshotId: "k1" });
    expect(planned.create).toBeUndefined();
    const rwop = { ...existing, spec: { ...existing.spec, accessModes: ["ReadWriteOncePod"] } };
    expect(errorOf(() => plan({ existing: rwop, mountingPods: [app] }, "allow-running")).exitCode).toBe(9);
  });

  test("unmounted: placed within the PV's node affinity; a missing PVC is created from the backup's record", () => {
    const affinity = { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n1"] }] }] };
    expect(plan({ existing, pv: { spec: { nodeAffinity: { required: affinity } } } }).restore.pvNodeAffinity).toEqual(affinity);
    const created = plan({});
    expect(created.create!.basis).toBe("backup's record");
    expect(created.create!.pvc.spec!.resources!.requests!.storage).toBe("2Gi");
  });

  test("a missing namespace is bad input without --create-namespace, and planned with it", () => {
    expect(errorOf(() => plan({ namespaceExists: false })).exitCode).toBe(2);
    expect(plan({ namespaceExists: false }, "refuse", true).createNamespace).toBe(true);
  });
});

describe("podsMounting and stopCommand", () => {
  test("pods not ended that name the claim (or make it as an ephemeral volume); kopia-k8s's own pods and ended pods are not", () => {
    const ephemeral: V1Pod = { metadata: { name: "job-x" }, spec: { containers: [], volumes: [{ name: "scratch", ephemeral: {} }] }, status: { phase: "Pending" } };
    const ours = { ...pod("kopia-restore-1", "data"), metadata: { name: "kopia-restore-1", labels: { "app.kubernetes.io/managed-by": "kopia-k8s" } } };
    const names = (claim: string, pods: V1Pod[]) => podsMounting(pods, claim).map((p) => p.metadata!.name);
    expect(names("data", [pod("a", "data"), pod("b", "other"), pod("c", "data", {}, "Succeeded"), ours])).toEqual(["a"]);
    expect(names("job-x-scratch", [ephemeral])).toEqual(["job-x"]);
  });
  test("the command scales workloads and deletes bare pods", () => {
    expect(stopCommand("apps", [{ kind: "Deployment", name: "web" }, { kind: "StatefulSet", name: "db" }], ["bare"])).toBe("kubectl -n apps scale deployment/web statefulset/db --replicas=0 && kubectl -n apps delete pod bare");
  });
});

describe("pvcsOfSources: disaster recovery's PVCs", () => {
  const sources = ["data@apps:/data", "db@shop.home:/data", "alice@laptop:/home/alice", "logs@shop:/data"];
  test("operator-backup's sources only (path /data), of this cluster name, filtered by namespace", () => {
    expect(pvcsOfSources(sources, { namespaces: [] })).toEqual([{ namespace: "apps", pvc: "data" }, { namespace: "shop", pvc: "logs" }]);
    expect(pvcsOfSources(sources, { namespaces: [], clusterName: "home" })).toEqual([{ namespace: "shop", pvc: "db" }]);
    expect(pvcsOfSources(sources, { namespaces: ["shop"] })).toEqual([{ namespace: "shop", pvc: "logs" }]);
  });
});

describe("restoreVerdict", () => {
  const row = (result: string, exitCode?: number) => ({ namespace: "a", pvc: "p", node: "-", result, files: "-", bytes: "-", duration: "0s", ...(exitCode !== undefined ? { exitCode } : {}) });
  test("one PVC keeps kopia-restore's own code; a Job that failed otherwise is 7", () => {
    expect(restoreVerdict([row("restored", 0)])).toBe(0);
    expect(errorOf(() => restoreVerdict([row("refused", 9)])).exitCode).toBe(9);
    expect(errorOf(() => restoreVerdict([row("restored-with-errors", 3)])).exitCode).toBe(3);
    expect(errorOf(() => restoreVerdict([row("failed")])).exitCode).toBe(7);
  });
  test("several: 0 all restored, 3 only with errors, else 7", () => {
    expect(restoreVerdict([row("restored"), row("restored")])).toBe(0);
    expect(errorOf(() => restoreVerdict([row("restored"), row("restored-with-errors")])).exitCode).toBe(3);
    expect(errorOf(() => restoreVerdict([row("restored"), row("no-snapshot", 8)])).exitCode).toBe(7);
  });
});
