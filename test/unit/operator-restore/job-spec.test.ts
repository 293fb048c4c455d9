import { describe, expect, test } from "bun:test";
import type { JobSettings } from "../../../shared/operator/job-spec.ts";
import { buildResolveJob, buildRestoreJob, RESTORE_SECURITY, type RestoreTarget } from "../../../shared/operator/restore/job-spec.ts";

const settings = (overrides: Partial<JobSettings> = {}): JobSettings => ({
  runId: "abcd1234", image: "registry.example/kopia-k8s:0.1.0", repositoryUrl: "s3://backups?endpoint=minio:9000",
  resources: { requests: { cpu: "100m" } }, cacheSizeMB: 512, labels: {}, annotations: {}, backupArgs: [], logFormat: "json",
  backoffLimit: 0, activeDeadlineSeconds: 3600, imagePullSecrets: [], secretEnvNames: ["KOPIA_PASSWORD"], ...overrides,
});
const target = (overrides: Partial<RestoreTarget> = {}): RestoreTarget => ({
  namespace: "staging", pvc: "data-copy", source: { namespace: "apps", pvc: "data" }, snapshotId: "k1234abcd", tolerations: [], ...overrides,
});

describe("the resolve Job: picks and pins the snapshot", () => {
  const job = buildResolveJob("kopia-restore-pick-x", "kopia-k8s", settings({ clusterName: "home" }), { source: { namespace: "apps", pvc: "data" }, selectionArgs: ["--as-of", "2026-05-01T03:00:00Z"], subpath: "uploads" });
  const pod = job.spec!.template.spec!;
  test("kopia-restore's dry run with the selection, its summary as the termination message", () => {
    expect(pod.containers[0]!.command).toEqual(["kopia-restore"]);
    expect(pod.containers[0]!.args).toEqual(["--namespace", "apps", "--pvc", "data", "--cluster-name", "home", "--as-of", "2026-05-01T03:00:00Z", "--subpath", "uploads", "--dry-run", "--summary-file", "/dev/termination-log"]);
  });
  test("no volume of the app, no service-account token, non-root without capabilities", () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.volumes!.some((volume) => volume.persistentVolumeClaim)).toBe(false);
    expect(pod.containers[0]!.securityContext).toMatchObject({ runAsNonRoot: true, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true });
    expect(job.metadata!.labels!["kopia-k8s.io/role"]).toBe("resolve");
  });
});

describe("the resolve Job of a filesystem repository", () => {
  const filesystem = settings({ repositoryUrl: "filesystem:///srv/kopia", repositoryHostPath: "/srv/kopia" });
  const mountsRepository = (job: ReturnType<typeof buildResolveJob>) => job.spec!.template.spec!.volumes!.some((volume) => volume.hostPath?.path === "/srv/kopia");
  test("mounts the node's folder; with --repository-node it runs on that node, else on any Linux node", () => {
    const pinnedJob = buildResolveJob("pick", "kopia-k8s", filesystem, { list: true }, "node-1");
    expect(mountsRepository(pinnedJob)).toBe(true);
    const pinned = pinnedJob.spec!.template.spec!;
    expect(pinned.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields).toEqual([{ key: "metadata.name", operator: "In", values: ["node-1"] }]);
    const anywhere = buildResolveJob("pick", "kopia-k8s", filesystem, { list: true }).spec!.template.spec!;
    expect(anywhere.affinity).toBeUndefined();
    expect(anywhere.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
  });
});

describe("the restore Job", () => {
  test("restores the pinned snapshot of the source into the mounted PVC, read-write, with exactly the write flags given", () => {
    const job = buildRestoreJob("kopia-restore-x", target(), settings(), ["--overwrite", "--delete-extra"]);
    const pod = job.spec!.template.spec!;
    expect(job.metadata!.namespace).toBe("staging");
    expect(pod.containers[0]!.args).toEqual(["--namespace", "apps", "--pvc", "data", "--snapshot", "k1234abcd", "--target", "/restore/data", "--overwrite", "--delete-extra", "--summary-file", "/dev/termination-log"]);
    expect(pod.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "data-copy" } });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: "data", mountPath: "/restore/data" });
  });

  test("the PVC's mount sits in a writable folder: kopia unlinks '<target>.kopia-entry' beside the target, which a read-only root refuses", () => {
    const pod = buildRestoreJob("kopia-restore-x", target(), settings(), []).spec!.template.spec!;
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: "restore-parent", mountPath: "/restore" });
    expect(pod.volumes).toContainEqual({ name: "restore-parent", emptyDir: { sizeLimit: "1Mi" } });
  });

  test("a subpath goes back where it was", () => {
    const job = buildRestoreJob("kopia-restore-x", target({ subpath: "uploads/2026" }), settings(), []);
    expect(job.spec!.template.spec!.containers[0]!.args).toContain("/restore/data/uploads/2026");
  });

  test("root with only CHOWN, FOWNER, DAC_OVERRIDE and FSETID; read-only root filesystem; no token; kept labels for the pool", () => {
    const job = buildRestoreJob("kopia-restore-x", target(), settings(), []);
    const pod = job.spec!.template.spec!;
    expect(pod.containers[0]!.securityContext).toEqual(RESTORE_SECURITY);
    expect(RESTORE_SECURITY).toMatchObject({ runAsUser: 0, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"], add: ["CHOWN", "FOWNER", "DAC_OVERRIDE", "FSETID"] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(job.metadata!.labels).toMatchObject({ "kopia-k8s.io/role": "restore", "kopia-k8s.io/run-id": "abcd1234" });
    expect(job.spec!.template.metadata!.labels).toEqual(job.metadata!.labels!);
  });

  test("placement: pinned by node affinity to the app's node (never nodeName); else within the PV's affinity; else any Linux node", () => {
    const pinned = buildRestoreJob("x", target({ node: "worker-2", tolerations: [{ key: "db", operator: "Exists" }] }), settings(), []).spec!.template.spec!;
    expect(pinned.nodeName).toBeUndefined();
    expect(pinned.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields).toEqual([{ key: "metadata.name", operator: "In", values: ["worker-2"] }]);
    expect(pinned.tolerations!.map((t) => t.key)).toEqual(["db", "node.kubernetes.io/unschedulable"]);
    const affinity = { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n1"] }] }] };
    const withPv = buildRestoreJob("x", target({ pvNodeAffinity: affinity }), settings(), []).spec!.template.spec!;
    expect(withPv.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual(affinity);
    const free = buildRestoreJob("x", target(), settings(), []).spec!.template.spec!;
    expect(free.affinity).toBeUndefined();
    expect(free.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
  });
});
