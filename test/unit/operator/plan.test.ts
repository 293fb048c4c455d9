import { describe, expect, test } from "bun:test";
import type { V1NodeSelector, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Toleration } from "@kubernetes/client-node";
import { planBackups, withoutPodsOf, type PlanOptions } from "../../../shared/operator/plan.ts";

const PRE = "kopia-k8s.io/pre-backup";
const POST = "kopia-k8s.io/post-backup";

const options = (overrides: Partial<PlanOptions> = {}): PlanOptions => ({
  namespaces: [],
  podSelectorGiven: false,
  preBackupAnnotation: PRE,
  postBackupAnnotation: POST,
  defaultHookTimeoutMs: 300_000,
  defaultHookOnError: "abort",
  ...overrides,
});

interface PodInput {
  namespace?: string;
  name: string;
  node?: string;
  phase?: string;
  claims?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  tolerations?: V1Toleration[];
  containers?: string[];
}

function pod(input: PodInput): V1Pod {
  return {
    metadata: {
      namespace: input.namespace ?? "apps",
      name: input.name,
      ...(input.labels ? { labels: input.labels } : {}),
      ...(input.annotations ? { annotations: input.annotations } : {}),
    },
    spec: {
      nodeName: input.node ?? "node-1",
      containers: (input.containers ?? ["app"]).map((name) => ({ name, image: "busybox" })),
      volumes: [
        { name: "config", configMap: { name: "cfg" } },
        ...(input.claims ?? []).map((claimName, index) => ({ name: `vol-${index}`, persistentVolumeClaim: { claimName } })),
      ],
      ...(input.tolerations ? { tolerations: input.tolerations } : {}),
    },
    status: { phase: input.phase ?? "Running" },
  };
}

interface PvcInput {
  namespace?: string;
  name: string;
  modes?: string[];
  phase?: string;
  volumeName?: string;
  volumeMode?: string;
  annotations?: Record<string, string>;
}

function pvc(input: PvcInput): V1PersistentVolumeClaim {
  return {
    metadata: { namespace: input.namespace ?? "apps", name: input.name, ...(input.annotations ? { annotations: input.annotations } : {}) },
    spec: {
      accessModes: input.modes ?? ["ReadWriteOnce"],
      volumeName: input.volumeName ?? `pv-${input.name}`,
      ...(input.volumeMode ? { volumeMode: input.volumeMode } : {}),
    },
    status: { phase: input.phase ?? "Bound" },
  };
}

const LOCAL_AFFINITY: V1NodeSelector = {
  nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["node-7"] }] }],
};

function pv(name: string, nodeAffinity?: V1NodeSelector): V1PersistentVolume {
  return { metadata: { name }, spec: { ...(nodeAffinity ? { nodeAffinity: { required: nodeAffinity } } : {}) } };
}

const TAINT_A: V1Toleration = { key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" };
const TAINT_B: V1Toleration = { key: "gpu", operator: "Exists", effect: "NoSchedule" };


describe("planBackups: mounted volumes", () => {
  test("a ReadWriteOnce PVC of a running pod is pinned to the pod's node with its tolerations", () => {
    const plan = planBackups(
      [pod({ name: "db-0", node: "worker-3", claims: ["data"], tolerations: [TAINT_A] })],
      [pvc({ name: "data" })],
      [pv("pv-data")],
      options(),
    );
    expect(plan.targets).toEqual([{ namespace: "apps", pvc: "data", node: "worker-3", tolerations: [TAINT_A], mountedBy: ["db-0"], claim: { accessModes: ["ReadWriteOnce"] } }]);
    expect(plan.skipped).toEqual([]);
    expect(plan.preHooks).toEqual([]);
    expect(plan.postHooks).toEqual([]);
  });

  test("a PVC without access modes is treated as single-node", () => {
    const claim = pvc({ name: "data" });
    claim.spec!.accessModes = [];
    const plan = planBackups([pod({ name: "p", node: "n2", claims: ["data"] })], [claim], [], options());
    expect(plan.targets[0]!.node).toBe("n2");
  });

  test("look-alike pods on different nodes: each PVC pinned to its own pod's node", () => {
    const labels = { app: "web", tier: "cache" };
    const plan = planBackups(
      [
        pod({ name: "web-a", node: "node-a", labels, claims: ["data-a"] }),
        pod({ name: "web-b", node: "node-b", labels, claims: ["data-b"] }),
      ],
      [pvc({ name: "data-a" }), pvc({ name: "data-b" })],
      [],
      options(),
    );
    expect(plan.targets.map((t) => [t.pvc, t.node, t.mountedBy])).toEqual([
      ["data-a", "node-a", ["web-a"]],
      ["data-b", "node-b", ["web-b"]],
    ]);
  });

  test("a pod mounting one claim through two volumes is listed once among the claim's pods", () => {
    const plan = planBackups([pod({ name: "app", claims: ["data", "data", "logs"] })], [pvc({ name: "data" }), pvc({ name: "logs" })], [], options());
    expect(plan.targets.map((t) => [t.pvc, t.mountedBy])).toEqual([
      ["data", ["app"]],
      ["logs", ["app"]],
    ]);
  });

  test("a PVC shared by two pods is one target, mounted by both, tolerations merged without duplicates", () => {
    const plan = planBackups(
      [
        pod({ name: "reader", node: "node-1", claims: ["shared"], tolerations: [TAINT_A] }),
        pod({ name: "writer", node: "node-1", claims: ["shared"], tolerations: [{ ...TAINT_A }, TAINT_B] }),
      ],
      [pvc({ name: "shared" })],
      [],
      options(),
    );
    expect(plan.targets).toEqual([
      { namespace: "apps", pvc: "shared", node: "node-1", tolerations: [TAINT_A, TAINT_B], mountedBy: ["reader", "writer"], claim: { accessModes: ["ReadWriteOnce"] } },
    ]);
  });

  test("a ReadWriteMany PVC gets no node", () => {
    const plan = planBackups([pod({ name: "p", node: "node-9", claims: ["files"] })], [pvc({ name: "files", modes: ["ReadWriteMany"] })], [], options());
    expect(plan.targets).toEqual([{ namespace: "apps", pvc: "files", tolerations: [], mountedBy: ["p"], claim: { accessModes: ["ReadWriteMany"] } }]);
    expect("node" in plan.targets[0]!).toBe(false);
  });

  test("a mounted ReadWriteOncePod PVC is a target with a problem", () => {
    const plan = planBackups([pod({ name: "solo", node: "n1", claims: ["exclusive"] })], [pvc({ name: "exclusive", modes: ["ReadWriteOncePod"] })], [], options());
    expect(plan.targets).toHaveLength(1);
    const target = plan.targets[0]!;
    expect(target.pvc).toBe("exclusive");
    expect(target.node).toBe("n1");
    expect(target.mountedBy).toEqual(["solo"]);
    expect(target.problem).toContain("ReadWriteOncePod");
    expect(target.problem).toContain("solo");
  });

  test("a ReadWriteOnce PVC gets no problem", () => {
    const plan = planBackups([pod({ name: "p", claims: ["d"] })], [pvc({ name: "d" })], [], options());
    expect(plan.targets[0]!.problem).toBeUndefined();
  });

  test("a pod volume naming a PVC that does not exist is ignored", () => {
    const plan = planBackups([pod({ name: "p", claims: ["ghost"] })], [], [], options());
    expect(plan.targets).toEqual([]);
    expect(plan.skipped).toEqual([]);
  });
});

describe("planBackups: unmounted volumes", () => {
  test("an unmounted Bound PVC is a target without node, with the PV's node affinity", () => {
    const plan = planBackups([], [pvc({ name: "local", volumeName: "pv-local" }), pvc({ name: "remote", volumeName: "pv-remote" })], [pv("pv-local", LOCAL_AFFINITY), pv("pv-remote")], options());
    expect(plan.targets).toEqual([
      { namespace: "apps", pvc: "local", pvNodeAffinity: LOCAL_AFFINITY, tolerations: [], mountedBy: [], claim: { accessModes: ["ReadWriteOnce"] } },
      { namespace: "apps", pvc: "remote", tolerations: [], mountedBy: [], claim: { accessModes: ["ReadWriteOnce"] } },
    ]);
  });

  test("an unmounted Pending PVC is not a target", () => {
    const plan = planBackups([], [pvc({ name: "waiting", phase: "Pending" })], [], options());
    expect(plan.targets).toEqual([]);
  });

  test("unmounted PVCs are left out when a pod selector was given", () => {
    const plan = planBackups(
      [pod({ name: "selected", node: "n1", claims: ["mounted"] })],
      [pvc({ name: "mounted" }), pvc({ name: "idle" })],
      [],
      options({ podSelectorGiven: true }),
    );
    expect(plan.targets.map((t) => t.pvc)).toEqual(["mounted"]);
  });

  test("a PVC mounted only by a non-Running pod counts as unmounted", () => {
    const plan = planBackups([pod({ name: "p", phase: "Pending", node: "n1", claims: ["d"], annotations: { [PRE]: "echo" } })], [pvc({ name: "d" })], [], options());
    expect(plan.targets).toEqual([{ namespace: "apps", pvc: "d", tolerations: [], mountedBy: [], claim: { accessModes: ["ReadWriteOnce"] } }]);
    expect(plan.preHooks).toEqual([]);
  });
});

describe("planBackups: filters and opt-outs", () => {
  test("a PVC annotated kopia-k8s.io/backup=false is skipped with a reason, once", () => {
    const plan = planBackups(
      [pod({ name: "a", claims: ["secret"] }), pod({ name: "b", claims: ["secret"] })],
      [pvc({ name: "secret", annotations: { "kopia-k8s.io/backup": "false" } }), pvc({ name: "idle", annotations: { "kopia-k8s.io/backup": "FALSE" } })],
      [],
      options(),
    );
    expect(plan.targets).toEqual([]);
    expect(plan.skipped).toEqual([
      { namespace: "apps", name: "pvc/secret", reason: "annotated kopia-k8s.io/backup=false" },
      { namespace: "apps", name: "pvc/idle", reason: "annotated kopia-k8s.io/backup=false" },
    ]);
  });

  test("backup=true on a PVC changes nothing", () => {
    const plan = planBackups([], [pvc({ name: "d", annotations: { "kopia-k8s.io/backup": "true" } })], [], options());
    expect(plan.targets.map((t) => t.pvc)).toEqual(["d"]);
  });

  test("an opted-out pod: its PVC is not backed up and its hooks are not planned", () => {
    const plan = planBackups(
      [pod({ name: "quiet", claims: ["d"], annotations: { "kopia-k8s.io/backup": "false", [PRE]: "sync", [POST]: "echo done" } })],
      [pvc({ name: "d" })],
      [],
      options(),
    );
    expect(plan.targets).toEqual([]);
    expect(plan.preHooks).toEqual([]);
    expect(plan.postHooks).toEqual([]);
    expect(plan.skipped).toEqual([{ namespace: "apps", name: "pod/quiet", reason: "annotated kopia-k8s.io/backup=false" }]);
  });

  test("pods managed by kopia-k8s are ignored", () => {
    const plan = planBackups(
      [pod({ name: "kopia-backup-x", node: "n5", claims: ["d"], labels: { "app.kubernetes.io/managed-by": "kopia-k8s" }, annotations: { [PRE]: "x" } })],
      [pvc({ name: "d" })],
      [],
      options({ podSelectorGiven: true }),
    );
    expect(plan.targets).toEqual([]);
    expect(plan.preHooks).toEqual([]);
  });

  test("non-Running pods are ignored", () => {
    const pods = ["Pending", "Succeeded", "Failed", "Unknown"].map((phase, index) =>
      pod({ name: `p${index}`, phase, claims: [`d${index}`], annotations: { [PRE]: "x" } }),
    );
    const plan = planBackups(pods, [0, 1, 2, 3].map((i) => pvc({ name: `d${i}` })), [], options({ podSelectorGiven: true }));
    expect(plan.targets).toEqual([]);
    expect(plan.preHooks).toEqual([]);
  });

  test("only the given namespaces are planned", () => {
    const plan = planBackups(
      [
        pod({ namespace: "keep", name: "a", claims: ["d"], annotations: { [PRE]: "x" } }),
        pod({ namespace: "other", name: "b", claims: ["d"], annotations: { [PRE]: "y" } }),
      ],
      [pvc({ namespace: "keep", name: "d" }), pvc({ namespace: "other", name: "d" }), pvc({ namespace: "other", name: "idle", annotations: { "kopia-k8s.io/backup": "false" } })],
      [],
      options({ namespaces: ["keep"] }),
    );
    expect(plan.targets.map((t) => `${t.namespace}/${t.pvc}`)).toEqual(["keep/d"]);
    expect(plan.preHooks.map((h) => `${h.namespace}/${h.pod}`)).toEqual(["keep/a"]);
    expect(plan.skipped).toEqual([]);
  });

  test("a Block volume is skipped with a reason", () => {
    const plan = planBackups([pod({ name: "vm", claims: ["disk"] })], [pvc({ name: "disk", volumeMode: "Block" })], [], options());
    expect(plan.targets).toEqual([]);
    expect(plan.skipped).toEqual([{ namespace: "apps", name: "pvc/disk", reason: "block volume (no filesystem to back up)" }]);
  });
});

describe("planBackups: hooks", () => {
  test("command from the configured key, first container, default timeout", () => {
    const plan = planBackups([pod({ name: "db-0", containers: ["main", "sidecar"], annotations: { [PRE]: "pg_dump > /data/dump.sql" } })], [], [], options());
    expect(plan.preHooks).toEqual([{ namespace: "apps", pod: "db-0", container: "main", containers: ["main", "sidecar"], command: "pg_dump > /data/dump.sql", timeoutMs: 300_000, onError: "abort" }]);
    expect(plan.postHooks).toEqual([]);
  });

  test("the seed's annotation key, with container and timeout annotations", () => {
    const key = "kopia.earthnet.ch/prebackup";
    const plan = planBackups(
      [
        pod({
          name: "mysql-0",
          containers: ["init-helper", "mysql"],
          annotations: { [key]: "mysqldump --all-databases", [`${key}-container`]: "mysql", [`${key}-timeout`]: "30s", [PRE]: "ignored" },
        }),
      ],
      [],
      [],
      options({ preBackupAnnotation: key }),
    );
    expect(plan.preHooks).toEqual([{ namespace: "apps", pod: "mysql-0", container: "mysql", containers: ["init-helper", "mysql"], command: "mysqldump --all-databases", timeoutMs: 30_000, onError: "abort" }]);
  });

  test("a blank command is no hook", () => {
    const plan = planBackups([pod({ name: "p", annotations: { [PRE]: "   " } })], [], [], options());
    expect(plan.preHooks).toEqual([]);
  });

  test("post hooks come from the post annotation", () => {
    const plan = planBackups(
      [pod({ name: "p", containers: ["c1", "c2"], annotations: { [POST]: "rm /data/dump.sql", [`${POST}-container`]: "c2", [`${POST}-timeout`]: "1m30s" } })],
      [],
      [],
      options({ defaultHookTimeoutMs: 1 }),
    );
    expect(plan.postHooks).toEqual([{ namespace: "apps", pod: "p", container: "c2", containers: ["c1", "c2"], command: "rm /data/dump.sql", timeoutMs: 90_000, onError: "abort" }]);
    expect(plan.preHooks).toEqual([]);
  });

  test("a unitless timeout is that pod's hook problem, naming the pod and the annotation, not an error for the run", () => {
    const plan = planBackups([pod({ namespace: "db", name: "pg-0", annotations: { [PRE]: "sync", [`${PRE}-timeout`]: "300" } })], [], [], options());
    expect(plan.preHooks[0]!.problem).toContain("db/pg-0");
    expect(plan.preHooks[0]!.problem).toContain(`${PRE}-timeout`);
    expect(plan.preHooks[0]!.problem).toContain("'300'");
    expect(plan.preHooks[0]!.timeoutMs).toBe(300_000);
  });

  test("a timeout beyond 24 days is a problem too (a timer would fire at once), naming the annotation", () => {
    const plan = planBackups([pod({ namespace: "db", name: "pg-0", annotations: { [PRE]: "sync", [`${PRE}-timeout`]: "600h" } })], [], [], options());
    expect(plan.preHooks[0]!.problem).toBe(`pod db/pg-0: annotation ${PRE}-timeout: '600h' is out of range; give more than 0 and at most 24 days (576h), e.g. 30s, 15m or 1h`);
  });

  test("on error: the run's default, or the pod's <key>-on-error annotation; anything else is a problem", () => {
    const hooks = (annotations: Record<string, string>, defaultHookOnError: "abort" | "continue" = "abort") =>
      planBackups([pod({ name: "p", annotations: { [PRE]: "sync", ...annotations } })], [], [], options({ defaultHookOnError })).preHooks[0]!;
    expect(hooks({}).onError).toBe("abort");
    expect(hooks({}, "continue").onError).toBe("continue");
    expect(hooks({ [`${PRE}-on-error`]: "continue" }).onError).toBe("continue");
    expect(hooks({ [`${PRE}-on-error`]: "Abort" }, "continue").onError).toBe("abort");
    expect(hooks({ [`${PRE}-on-error`]: "ignore" }).problem).toBe(`pod apps/p: annotation ${PRE}-on-error: 'ignore' must be abort or continue`);
  });

  test("a hook container that is not running (crash loop) is that hook's problem", () => {
    const crashing = pod({ name: "p", containers: ["app"], annotations: { [PRE]: "sync" } });
    crashing.status!.containerStatuses = [{ name: "app", image: "i", imageID: "", ready: false, restartCount: 7, state: { waiting: { reason: "CrashLoopBackOff" } } }];
    expect(planBackups([crashing], [], [], options()).preHooks[0]!.problem).toBe("pod apps/p: container app is not running (CrashLoopBackOff); the hook cannot run");
    crashing.status!.containerStatuses = [{ name: "app", image: "i", imageID: "", ready: true, restartCount: 0, state: { running: {} } }];
    expect(planBackups([crashing], [], [], options()).preHooks[0]!.problem).toBeUndefined();
  });

  test("a terminating pod gets no hooks, and its volume is backed up on its node", () => {
    const leaving = pod({ name: "old-0", claims: ["data"], annotations: { [PRE]: "freeze", [POST]: "thaw" } });
    leaving.metadata!.deletionTimestamp = new Date();
    const plan = planBackups([leaving], [pvc({ name: "data" })], [], options());
    expect(plan.preHooks).toEqual([]);
    expect(plan.postHooks).toEqual([]);
    expect(plan.targets.map((t) => [t.pvc, t.node, t.mountedBy])).toEqual([["data", leaving.spec!.nodeName, ["old-0"]]]);
  });
});

describe("planBackups: generic ephemeral volumes", () => {
  test("the PVC <pod>-<volume> counts as mounted by its pod: pinned to its node, with its tolerations and hooks", () => {
    const app = pod({ name: "cache-0", annotations: { [PRE]: "freeze", [POST]: "thaw" } });
    app.spec!.volumes = [{ name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"] } } } }];
    app.spec!.tolerations = [{ key: "dedicated", operator: "Exists" }];
    const plan = planBackups([app], [pvc({ name: "cache-0-scratch" })], [], options());
    expect(plan.targets).toEqual([{ namespace: "apps", pvc: "cache-0-scratch", node: app.spec!.nodeName!, tolerations: [{ key: "dedicated", operator: "Exists" }], mountedBy: ["cache-0"], claim: { accessModes: ["ReadWriteOnce"] } }]);
  });
});

describe("planBackups: ordering", () => {
  test("targets, hooks and skipped entries come out sorted, whatever the input order", () => {
    const pods = [
      pod({ namespace: "zeta", name: "z1", claims: ["data"], annotations: { [PRE]: "z", [POST]: "z" } }),
      pod({ namespace: "alpha", name: "b", claims: ["data-b"], annotations: { [PRE]: "b" } }),
      pod({ namespace: "alpha", name: "a", claims: ["data-a"], annotations: { [PRE]: "a", [POST]: "a" } }),
    ];
    const pvcs = [
      pvc({ namespace: "zeta", name: "data" }),
      pvc({ namespace: "alpha", name: "unmounted" }),
      pvc({ namespace: "alpha", name: "data-b" }),
      pvc({ namespace: "alpha", name: "data-a" }),
    ];
    const forward = planBackups(pods, pvcs, [], options());
    const backward = planBackups([...pods].reverse(), [...pvcs].reverse(), [], options());
    expect(forward.targets.map((t) => `${t.namespace}/${t.pvc}`)).toEqual(["alpha/data-a", "alpha/data-b", "alpha/unmounted", "zeta/data"]);
    expect(forward.preHooks.map((h) => `${h.namespace}/${h.pod}`)).toEqual(["alpha/a", "alpha/b", "zeta/z1"]);
    expect(forward.postHooks.map((h) => `${h.namespace}/${h.pod}`)).toEqual(["alpha/a", "zeta/z1"]);
    expect(backward).toEqual(forward);
  });

  test("mountedBy follows pod name order", () => {
    const plan = planBackups(
      [pod({ name: "c", claims: ["d"] }), pod({ name: "a", claims: ["d"] }), pod({ name: "b", claims: ["d"] })],
      [pvc({ name: "d", modes: ["ReadWriteMany"] })],
      [],
      options(),
    );
    expect(plan.targets[0]!.mountedBy).toEqual(["a", "b", "c"]);
  });
});

describe("withoutPodsOf: the volumes of pods whose pre-backup hook failed are set aside", () => {
  test("a volume any failed pod mounts is blocked with the reason; the others are kept", () => {
    const plan = planBackups(
      [pod({ name: "a", claims: ["shared", "only-a"], annotations: { [PRE]: "x" } }), pod({ name: "b", claims: ["shared", "only-b"], annotations: { [PRE]: "y" } })],
      [pvc({ name: "shared", modes: ["ReadWriteMany"] }), pvc({ name: "only-a" }), pvc({ name: "only-b" })],
      [],
      options(),
    );
    const failedA = plan.preHooks.filter((hook) => hook.pod === "a");
    const { toBackUp, blocked } = withoutPodsOf(failedA, plan.targets);
    expect(toBackUp.map((target) => target.pvc)).toEqual(["only-b"]);
    expect(blocked.map((target) => [target.pvc, target.problem])).toEqual([
      ["only-a", "not started: the pre-backup hook of pod apps/a failed (on error: continue)"],
      ["shared", "not started: the pre-backup hook of pod apps/a failed (on error: continue)"],
    ]);
    expect(withoutPodsOf([], plan.targets)).toEqual({ toBackUp: plan.targets, blocked: [] });
  });
});
