import { describe, expect, test } from "bun:test";
import type { V1Job, V1NodeSelector } from "@kubernetes/client-node";
import { buildBackupJob, buildCredentialsSecret, buildGroupBackupJob, buildRepositoryJob, kopiaHostname, runLabels, type JobSettings } from "../../../shared/operator/job-spec.ts";
import { shortHash } from "../../../shared/operator/names.ts";
import type { BackupTarget } from "../../../shared/operator/plan.ts";

const PASSWORD = "s3cr3t-repository-password";

const settings = (overrides: Partial<JobSettings> = {}): JobSettings => ({
  runId: "abcd1234",
  image: "registry.example/kopia-k8s:0.1.0",
  repositoryUrl: "s3://backups?endpoint=minio:9000",
  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
  cacheSizeMB: 1024,
  labels: { team: "platform" },
  annotations: { "sidecar.istio.io/inject": "false" },
  backupArgs: ["--tag=cluster:home", "--keep-daily=7"],
  logFormat: "json",
  backoffLimit: 0,
  activeDeadlineSeconds: 82_800,
  imagePullSecrets: [],
  secretEnvNames: ["KOPIA_PASSWORD", "AWS_SECRET_ACCESS_KEY"],
  ...overrides,
});

const target = (overrides: Partial<BackupTarget> = {}): BackupTarget => ({
  namespace: "apps",
  pvc: "data-db-0",
  node: "worker-2",
  tolerations: [{ key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" }],
  mountedBy: ["db-0"],
  claim: { size: "10Gi", storageClass: "local-path", accessModes: ["ReadWriteOnce"], fsGroup: 1000 },
  ...overrides,
});

const JOB = "kopia-backup-abcd1234-data-db-0-12345678";
const podSpec = (job: V1Job) => job.spec!.template.spec!;
const mainContainer = (job: V1Job) => podSpec(job).containers[0]!;

describe("buildBackupJob: placement", () => {
  test("required node affinity on the target node's name, no pod affinity anywhere", () => {
    const job = buildBackupJob(JOB, target(), settings());
    expect(podSpec(job).affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["worker-2"] }] }],
        },
      },
    });
    const text = JSON.stringify(job);
    expect(text).not.toContain("podAffinity");
    expect(text).not.toContain("podAntiAffinity");
    expect(text).not.toContain("preferredDuringScheduling");
  });

  test("the PV's node affinity is used when there is no node", () => {
    const selector: V1NodeSelector = { nodeSelectorTerms: [{ matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: ["z1"] }] }] };
    const job = buildBackupJob(JOB, target({ node: undefined, pvNodeAffinity: selector }), settings());
    expect(podSpec(job).affinity).toEqual({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: selector } });
  });

  test("the node wins over the PV's node affinity", () => {
    const selector: V1NodeSelector = { nodeSelectorTerms: [{ matchExpressions: [{ key: "x", operator: "In", values: ["y"] }] }] };
    const job = buildBackupJob(JOB, target({ pvNodeAffinity: selector }), settings());
    expect(podSpec(job).affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields![0]!.values).toEqual(["worker-2"]);
  });

  test("neither node nor PV affinity: no affinity, no node annotation, any Linux node", () => {
    const job = buildBackupJob(JOB, target({ node: undefined, tolerations: [] }), settings());
    expect(podSpec(job).affinity).toBeUndefined();
    expect(podSpec(job).tolerations).toBeUndefined();
    expect(podSpec(job).nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(job.metadata!.annotations!["kopia-k8s.io/node"]).toBeUndefined();
  });

  test("a pinned Job selects no OS (its node is the app's)", () => {
    expect(podSpec(buildBackupJob(JOB, target(), settings())).nodeSelector).toBeUndefined();
  });

  test("tolerations are copied from the target; a pinned Job also tolerates its node being cordoned", () => {
    const tolerations = [
      { key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" },
      { key: "gpu", operator: "Exists", effect: "NoExecute", tolerationSeconds: 60 },
    ];
    expect(podSpec(buildBackupJob(JOB, target({ tolerations }), settings())).tolerations).toEqual([...tolerations, { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }]);
    expect(podSpec(buildBackupJob(JOB, target({ tolerations, node: undefined }), settings())).tolerations).toEqual(tolerations);
    const already = [{ key: "node.kubernetes.io/unschedulable", operator: "Exists" }];
    expect(podSpec(buildBackupJob(JOB, target({ tolerations: already }), settings())).tolerations).toEqual(already);
  });
});

describe("buildBackupJob: pod and container", () => {
  test("the PVC is mounted read-only at /data, from a read-only volume", () => {
    const job = buildBackupJob(JOB, target(), settings());
    expect(podSpec(job).volumes).toEqual([
      { name: "data", persistentVolumeClaim: { claimName: "data-db-0", readOnly: true } },
      { name: "kopia-state", emptyDir: { sizeLimit: "3072Mi" } },
      { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
    ]);
    expect(mainContainer(job).volumeMounts).toEqual([
      { name: "data", mountPath: "/data", readOnly: true },
      { name: "kopia-state", mountPath: "/kopia" },
      { name: "tmp", mountPath: "/tmp" },
    ]);
  });

  test("no service account token, no service links, restartPolicy Never, backoffLimit and deadline passed", () => {
    const job = buildBackupJob(JOB, target(), settings({ backoffLimit: 2, activeDeadlineSeconds: 3600 }));
    expect(job.spec!.activeDeadlineSeconds).toBe(3600);
    expect(podSpec(job).automountServiceAccountToken).toBe(false);
    expect(podSpec(job).enableServiceLinks).toBe(false);
    expect(podSpec(job).restartPolicy).toBe("Never");
    expect(job.spec!.backoffLimit).toBe(2);
    expect(podSpec(job).containers).toHaveLength(1);
  });

  test("env holds non-secret KK_* values; the password and storage keys come only by name from the per-Job Secret", () => {
    const job = buildBackupJob(JOB, target(), settings({ pushgatewayUrl: "http://pushgateway:9091" }));
    const container = mainContainer(job);
    expect(container.env).toEqual([
      { name: "KK_REPOSITORY", value: "s3://backups?endpoint=minio:9000" },
      { name: "KK_LOG_FORMAT", value: "json" },
      { name: "KK_CONFIG_PATH", value: "/kopia/config" },
      { name: "KK_KOPIA_CACHE_PATH", value: "/kopia/cache" },
      { name: "KK_KOPIA_LOG_PATH", value: "/kopia/logs" },
      { name: "KK_KOPIA_CACHE_SIZE_MB", value: "1024" },
      { name: "KK_PUSHGATEWAY_URL", value: "http://pushgateway:9091" },
      { name: "KOPIA_PASSWORD", valueFrom: { secretKeyRef: { name: JOB, key: "KOPIA_PASSWORD" } } },
      { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: JOB, key: "AWS_SECRET_ACCESS_KEY" } } },
    ]);
    for (const variable of container.env!) {
      if (variable.valueFrom) expect(variable.value).toBeUndefined();
      else expect(variable.name).toStartWith("KK_");
    }
    expect(container.envFrom).toBeUndefined();
  });

  test("no pushgateway URL: no KK_PUSHGATEWAY_URL", () => {
    const job = buildBackupJob(JOB, target(), settings());
    expect(mainContainer(job).env!.map((variable) => variable.name)).not.toContain("KK_PUSHGATEWAY_URL");
  });

  test("envFrom names the user's Secret when one is set: all of it is the environment, nothing comes from a per-Job Secret", () => {
    const job = buildBackupJob(JOB, target(), settings({ userSecretName: "kopia-credentials" }));
    expect(mainContainer(job).envFrom).toEqual([{ secretRef: { name: "kopia-credentials" } }]);
    expect(mainContainer(job).env!.filter((variable) => variable.valueFrom)).toEqual([]);
  });

  test("runs kopia-backup with the identity flags, the summary file and the extra args", () => {
    const job = buildBackupJob(JOB, target(), settings());
    const container = mainContainer(job);
    expect(container.name).toBe("kopia-backup");
    expect(container.command).toEqual(["kopia-backup"]);
    expect(container.args).toEqual([
      "--path", "/data",
      "--hostname", "apps",
      "--username", "data-db-0",
      "--summary-file", "/dev/termination-log",
      "--no-create",
      "--tag=k8s-size:10Gi", "--tag=k8s-storage-class:local-path", "--tag=k8s-access-modes:ReadWriteOnce", "--tag=k8s-fsgroup:1000",
      "--tag=cluster:home", "--keep-daily=7",
    ]);
    expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
  });

  test("image pull secrets reach backup and maintenance pods; none, no field", () => {
    const withSecrets = settings({ imagePullSecrets: ["registry-lan", "mirror"] });
    expect(podSpec(buildBackupJob(JOB, target(), withSecrets)).imagePullSecrets).toEqual([{ name: "registry-lan" }, { name: "mirror" }]);
    expect(podSpec(buildRepositoryJob("m", "kopia", "maintenance", withSecrets)).imagePullSecrets).toEqual([{ name: "registry-lan" }, { name: "mirror" }]);
    expect(podSpec(buildBackupJob(JOB, target(), settings())).imagePullSecrets).toBeUndefined();
  });

  test("image, pull policy and resources are passed", () => {
    const job = buildBackupJob(JOB, target(), settings({ imagePullPolicy: "IfNotPresent" }));
    const container = mainContainer(job);
    expect(container.image).toBe("registry.example/kopia-k8s:0.1.0");
    expect(container.imagePullPolicy).toBe("IfNotPresent");
    expect(container.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } });
    expect("imagePullPolicy" in mainContainer(buildBackupJob(JOB, target(), settings()))).toBe(false);
  });

  test("kopia's cache size reaches the container and bounds the state volume", () => {
    const job = buildBackupJob(JOB, target(), settings({ cacheSizeMB: 500 }));
    expect(mainContainer(job).env).toContainEqual({ name: "KK_KOPIA_CACHE_SIZE_MB", value: "500" });
    expect(podSpec(job).volumes!.find((volume) => volume.name === "kopia-state")!.emptyDir).toEqual({ sizeLimit: "2024Mi" });
  });

  test("security context: capabilities dropped but DAC_OVERRIDE (Pod Security baseline allows it), read-only root filesystem, RuntimeDefault seccomp", () => {
    const context = mainContainer(buildBackupJob(JOB, target(), settings())).securityContext!;
    expect(context.capabilities).toEqual({ drop: ["ALL"], add: ["DAC_OVERRIDE"] });
    expect(context.seccompProfile).toEqual({ type: "RuntimeDefault" });
    expect(context.readOnlyRootFilesystem).toBe(true);
    expect(context.allowPrivilegeEscalation).toBe(false);
    expect(context.privileged).toBeUndefined();
  });

  test("a filesystem repository is mounted from the node as a Directory hostPath", () => {
    const job = buildBackupJob(JOB, target(), settings({ repositoryUrl: "filesystem:///srv/kopia", repositoryHostPath: "/srv/kopia" }));
    expect(podSpec(job).volumes!.filter((volume) => volume.name === "repository")).toEqual([
      { name: "repository", hostPath: { path: "/srv/kopia", type: "Directory" } },
    ]);
    expect(mainContainer(job).volumeMounts!.filter((mount) => mount.name === "repository")).toEqual([{ name: "repository", mountPath: "/srv/kopia" }]);
  });

  test("no hostPath volume without a filesystem repository", () => {
    const job = buildBackupJob(JOB, target(), settings());
    expect(JSON.stringify(job)).not.toContain("hostPath");
  });
});

describe("buildBackupJob: metadata", () => {
  test("name, namespace, labels and annotations on the Job and its pod template", () => {
    const job = buildBackupJob(JOB, target(), settings());
    expect(job.apiVersion).toBe("batch/v1");
    expect(job.kind).toBe("Job");
    expect(job.metadata!.name).toBe(JOB);
    expect(job.metadata!.namespace).toBe("apps");
    const labels = {
      team: "platform",
      "app.kubernetes.io/managed-by": "kopia-k8s",
      "kopia-k8s.io/run-id": "abcd1234",
      "kopia-k8s.io/role": "backup",
      "kopia-k8s.io/pvc-hash": shortHash("apps/data-db-0", 16),
    };
    const annotations = { "sidecar.istio.io/inject": "false", "kopia-k8s.io/pvc": "data-db-0", "kopia-k8s.io/node": "worker-2" };
    expect(job.metadata!.labels).toEqual(labels);
    expect(job.metadata!.annotations).toEqual(annotations);
    expect(job.spec!.template.metadata!.labels).toEqual(labels);
    expect(job.spec!.template.metadata!.annotations).toEqual(annotations);
  });

  test("extra labels cannot override the run's own labels", () => {
    const job = buildBackupJob(JOB, target(), settings({ labels: { "app.kubernetes.io/managed-by": "helm", "kopia-k8s.io/run-id": "other" } }));
    expect(job.metadata!.labels!["app.kubernetes.io/managed-by"]).toBe("kopia-k8s");
    expect(job.metadata!.labels!["kopia-k8s.io/run-id"]).toBe("abcd1234");
  });

  test("the pvc-hash label differs per namespace and is a valid label value", () => {
    const a = buildBackupJob(JOB, target({ namespace: "a" }), settings()).metadata!.labels!["kopia-k8s.io/pvc-hash"]!;
    const b = buildBackupJob(JOB, target({ namespace: "b" }), settings()).metadata!.labels!["kopia-k8s.io/pvc-hash"]!;
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("kopiaHostname", () => {
  test("the namespace, or <namespace>.<cluster name> with a cluster name", () => {
    expect(kopiaHostname("apps")).toBe("apps");
    expect(kopiaHostname("apps", "homelab.lan")).toBe("apps.homelab.lan");
    expect(buildBackupJob(JOB, target(), settings({ clusterName: "homelab" })).spec!.template.spec!.containers[0]!.args).toContain("apps.homelab");
  });
});

describe("buildRepositoryJob", () => {
  test("runs kopia-maintenance with the same repository, Secret and hardening, without a data volume", () => {
    const job = buildRepositoryJob("kopia-maintenance-abcd1234", "kopia", "maintenance", settings({ repositoryHostPath: "/srv/kopia" }));
    expect(job.metadata!.name).toBe("kopia-maintenance-abcd1234");
    expect(job.metadata!.namespace).toBe("kopia");
    expect(job.metadata!.labels).toEqual({ team: "platform", ...runLabels("abcd1234", "maintenance") });
    expect(job.metadata!.labels!["kopia-k8s.io/role"]).toBe("maintenance");
    expect(job.spec!.template.metadata!.labels).toEqual(job.metadata!.labels!);
    expect(job.metadata!.annotations).toEqual({ "sidecar.istio.io/inject": "false" });
    const spec = podSpec(job);
    expect(spec.restartPolicy).toBe("Never");
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.affinity).toBeUndefined();
    expect(spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    const container = spec.containers[0]!;
    expect(container.command).toEqual(["kopia-maintenance"]);
    expect(container.args).toEqual([]);
    expect(container.env).toContainEqual({ name: "KOPIA_PASSWORD", valueFrom: { secretKeyRef: { name: "kopia-maintenance-abcd1234", key: "KOPIA_PASSWORD" } } });
    // A filesystem repository's files are root's: root, but no capability at all.
    expect(container.securityContext).toMatchObject({ runAsUser: 0, capabilities: { drop: ["ALL"] } });
    expect(container.securityContext!.capabilities!.add).toBeUndefined();
    expect(spec.volumes!.map((volume) => volume.name)).toEqual(["kopia-state", "tmp", "repository"]);
    expect(container.volumeMounts!.map((mount) => mount.name)).toEqual(["kopia-state", "tmp", "repository"]);
  });

  test("init: kopia-maintenance --init under its own role, on the node it is given, with that node's tolerations", () => {
    const tolerations = [{ key: "dedicated", operator: "Equal", value: "backup", effect: "NoSchedule" }];
    const job = buildRepositoryJob("kopia-init-abcd1234", "kopia", "init", settings(), { node: "node-b", tolerations });
    expect(job.metadata!.labels!["kopia-k8s.io/role"]).toBe("init");
    const spec = podSpec(job);
    expect(spec.containers[0]!.command).toEqual(["kopia-maintenance"]);
    expect(spec.containers[0]!.args).toEqual(["--init"]);
    expect(spec.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms).toEqual([
      { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-b"] }] },
    ]);
    expect(spec.tolerations).toEqual([...tolerations, { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }]);
  });

  test("init placed as a backup without a node is: within the PV's node affinity", () => {
    const pvNodeAffinity: V1NodeSelector = { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n9"] }] }] };
    const spec = podSpec(buildRepositoryJob("kopia-init-abcd1234", "kopia", "init", settings(), { pvNodeAffinity, tolerations: [] }));
    expect(spec.affinity).toEqual({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: pvNodeAffinity } });
    expect(spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
  });

  test("without a filesystem repository: Pod Security restricted (non-root, no capability, RuntimeDefault seccomp)", () => {
    const context = podSpec(buildRepositoryJob("m", "kopia", "maintenance", settings())).containers[0]!.securityContext!;
    expect(context).toEqual({
      runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
    });
  });
});

describe("buildCredentialsSecret", () => {
  test("same name, namespace and labels as its Job, owned by the Job's uid, stringData as given", () => {
    const job = buildBackupJob(JOB, target(), settings());
    job.metadata!.uid = "0b7c6a3e-1111-2222-3333-444455556666";
    const data = { KOPIA_PASSWORD: PASSWORD, AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "secret" };
    const secret = buildCredentialsSecret(job, data);
    expect(secret.apiVersion).toBe("v1");
    expect(secret.kind).toBe("Secret");
    expect(secret.type).toBe("Opaque");
    expect(secret.metadata!.name).toBe(JOB);
    expect(secret.metadata!.namespace).toBe("apps");
    expect(secret.metadata!.labels).toEqual(job.metadata!.labels!);
    expect(secret.metadata!.ownerReferences).toEqual([
      { apiVersion: "batch/v1", kind: "Job", name: JOB, uid: "0b7c6a3e-1111-2222-3333-444455556666", blockOwnerDeletion: false, controller: false },
    ]);
    expect(secret.stringData).toEqual(data);
    expect(secret.data).toBeUndefined();
  });

  test("the Job's Secret references name the Secret built for it", () => {
    const job = buildBackupJob(JOB, target(), settings());
    job.metadata!.uid = "u";
    const secret = buildCredentialsSecret(job, { KOPIA_PASSWORD: PASSWORD });
    expect(mainContainer(job).env!.find((variable) => variable.name === "KOPIA_PASSWORD")!.valueFrom!.secretKeyRef!.name).toBe(secret.metadata!.name!);
  });
});

describe("key files", () => {
  const keyFiles = { names: ["keyfile", "known-hosts"], env: {} };
  const sftp = (overrides: Partial<JobSettings> = {}) =>
    settings({ repositoryUrl: "sftp://backup@nas:22/srv/kopia?keyfile=/kopia-keys/keyfile&known-hosts=/kopia-keys/known-hosts", keyFiles, ...overrides });

  test("the per-Job Secret's key-file keys are mounted read-only at /kopia-keys, owner-read-only; its variables are no files, its files no variables", () => {
    const job = buildBackupJob(JOB, target(), sftp());
    const items = [{ key: "keyfile", path: "keyfile", mode: 0o400 }, { key: "known-hosts", path: "known-hosts", mode: 0o400 }];
    expect(podSpec(job).volumes).toContainEqual({ name: "key-files", secret: { secretName: JOB, items, defaultMode: 0o400 } });
    expect(mainContainer(job).volumeMounts).toContainEqual({ name: "key-files", mountPath: "/kopia-keys", readOnly: true });
    const fromSecret = mainContainer(job).env!.filter((variable) => variable.valueFrom).map((variable) => variable.valueFrom!.secretKeyRef!.key);
    expect(fromSecret).toEqual(["KOPIA_PASSWORD", "AWS_SECRET_ACCESS_KEY"]);
    expect(mainContainer(job).env).toContainEqual({ name: "KK_REPOSITORY", value: sftp().repositoryUrl });
    // The backup runs as root, which owns the files: no fsGroup, which would also re-own the PVC's files.
    expect(podSpec(job).securityContext).toBeUndefined();
  });

  test("--key-files-secret: the volume is the user's Secret; the environment still comes from the per-Job one", () => {
    const job = buildBackupJob(JOB, target(), sftp({ keyFiles: { ...keyFiles, userSecretName: "nas-keys" } }));
    expect(podSpec(job).volumes!.find((volume) => volume.name === "key-files")!.secret!.secretName).toBe("nas-keys");
    expect(mainContainer(job).env).toContainEqual({ name: "KOPIA_PASSWORD", valueFrom: { secretKeyRef: { name: JOB, key: "KOPIA_PASSWORD" } } });
  });

  test("init and maintenance run as 65532 with fsGroup 65532, so root's owner-read-only files are readable to them as their group", () => {
    for (const role of ["init", "maintenance"] as const) {
      const spec = podSpec(buildRepositoryJob(`kopia-${role}-abcd1234`, "kopia", role, sftp()));
      expect(spec.containers[0]!.securityContext).toMatchObject({ runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true });
      expect(spec.securityContext).toEqual({ fsGroup: 65532 });
      expect(spec.volumes).toContainEqual(expect.objectContaining({ name: "key-files", secret: expect.objectContaining({ secretName: `kopia-${role}-abcd1234` }) }));
      expect(spec.containers[0]!.volumeMounts).toContainEqual({ name: "key-files", mountPath: "/kopia-keys", readOnly: true });
    }
  });

  test("a variable naming a mounted file (rclone's config) is set in the Job", () => {
    const job = buildBackupJob(JOB, target(), settings({ repositoryUrl: "rclone:nas:kopia", keyFiles: { names: ["rclone-config"], env: { RCLONE_CONFIG: "/kopia-keys/rclone-config" } } }));
    expect(mainContainer(job).env).toContainEqual({ name: "RCLONE_CONFIG", value: "/kopia-keys/rclone-config" });
  });

  test("without key files: no key-file volume, mount or fsGroup", () => {
    for (const job of [buildBackupJob(JOB, target(), settings()), buildRepositoryJob("m", "kopia", "maintenance", settings())]) {
      expect(podSpec(job).volumes!.map((volume) => volume.name)).not.toContain("key-files");
      expect(mainContainer(job).volumeMounts!.map((mount) => mount.name)).not.toContain("key-files");
      expect(podSpec(job).securityContext).toBeUndefined();
    }
  });
});

describe("buildGroupBackupJob: the PVCs of one namespace on one node in one Job", () => {
  const other = target({ pvc: "data-db-1", mountedBy: ["db-1"], claim: { size: "5Gi", accessModes: ["ReadWriteOnce"] }, tolerations: [{ key: "gpu", operator: "Exists", effect: "NoSchedule" }, ...target().tolerations] });
  const group = { namespace: "apps", node: "worker-2", targets: [target(), other] };

  test("one PVC: exactly the single-PVC Job", () => {
    expect(buildGroupBackupJob(JOB, { namespace: "apps", node: "worker-2", targets: [target()] }, settings())).toEqual(buildBackupJob(JOB, target(), settings()));
  });

  test("each PVC mounted read-only at its own folder, snapshotted under its own identity with its own claim tags", () => {
    const job = buildGroupBackupJob(JOB, group, settings());
    const container = mainContainer(job);
    expect(container.args).toEqual([
      "--volumes", JSON.stringify([
        { path: "/volumes/data-db-0", username: "data-db-0", tags: ["k8s-size:10Gi", "k8s-storage-class:local-path", "k8s-access-modes:ReadWriteOnce", "k8s-fsgroup:1000"] },
        { path: "/volumes/data-db-1", username: "data-db-1", tags: ["k8s-size:5Gi", "k8s-access-modes:ReadWriteOnce"] },
      ]),
      "--hostname", "apps",
      "--source-path", "/data",
      "--summary-file", "/dev/termination-log",
      "--no-create",
      "--tag=cluster:home", "--keep-daily=7",
    ]);
    expect(container.volumeMounts!.filter((mount) => mount.name.startsWith("data-"))).toEqual([
      { name: "data-0", mountPath: "/volumes/data-db-0", readOnly: true },
      { name: "data-1", mountPath: "/volumes/data-db-1", readOnly: true },
    ]);
    expect(podSpec(job).volumes!.filter((volume) => volume.persistentVolumeClaim)).toEqual([
      { name: "data-0", persistentVolumeClaim: { claimName: "data-db-0", readOnly: true } },
      { name: "data-1", persistentVolumeClaim: { claimName: "data-db-1", readOnly: true } },
    ]);
    expect(job.metadata!.annotations!["kopia-k8s.io/pvc"]).toBe("data-db-0,data-db-1");
    expect(job.metadata!.labels!["kopia-k8s.io/pvc-hash"]).toBe(shortHash("apps/data-db-0,data-db-1", 16));
  });

  test("pinned to the node, tolerating what each app pod tolerates, once", () => {
    const spec = podSpec(buildGroupBackupJob(JOB, group, settings()));
    expect(spec.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms).toEqual([{ matchFields: [{ key: "metadata.name", operator: "In", values: ["worker-2"] }] }]);
    expect(spec.tolerations).toEqual([...target().tolerations, { key: "gpu", operator: "Exists", effect: "NoSchedule" }, { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }]);
  });
});
