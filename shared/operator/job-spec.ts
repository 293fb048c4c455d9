import type { V1Affinity, V1Container, V1Job, V1NodeSelector, V1PodSpec, V1ResourceRequirements, V1Secret, V1SecurityContext, V1Toleration, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { ANNOTATION_NODE, ANNOTATION_PVC, LABEL_MANAGED_BY, LABEL_PVC_HASH, LABEL_ROLE, LABEL_RUN_ID, MANAGED_BY, shortHash } from "./names.ts";
import { claimTags } from "../claim-tags.ts";
import { KEY_FILES_MOUNT } from "./key-files.ts";
import type { BackupGroup } from "./backup-groups.ts";
import type { BackupTarget } from "./plan.ts";

/** Everything a backup Job needs besides its target; nothing secret (secrets travel in a Secret). */
export interface JobSettings {
  runId: string;
  /** Set when several clusters write one repository: part of every Kopia source's host. */
  clusterName?: string;
  image: string;
  imagePullPolicy?: string;
  /** Secrets for a private registry, each in every namespace the Jobs run in. */
  imagePullSecrets: string[];
  repositoryUrl: string;
  /** A filesystem repository's folder: mounted from the node (hostPath, must exist there). */
  repositoryHostPath?: string;
  /** The user's Secret, the container's whole environment (envFrom); otherwise the per-Job Secret, named like its Job. */
  userSecretName?: string;
  /** The per-Job Secret's variables, each taken by name: its other keys are key files, kept out of the environment. */
  secretEnvNames: string[];
  /** The repository's key files, mounted read-only at KEY_FILES_MOUNT: from the user's Secret, or the per-Job one. */
  keyFiles?: { names: string[]; userSecretName?: string; env: Record<string, string> };
  resources: V1ResourceRequirements;
  /** kopia's cache in each Job, in MiB: passed to kopia, and bounds the state emptyDir (a full node disk helps nobody). */
  cacheSizeMB: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Extra kopia-backup flags (retention, tags), passed on as they are. */
  backupArgs: string[];
  logFormat: "text" | "json";
  pushgatewayUrl?: string;
  backoffLimit: number;
  /** The Job fails once it has run this long (a hung kopia must not block every later run). */
  activeDeadlineSeconds: number;
}

/** Where a Job mounts the PVC it backs up or restores into. */
export const DATA_MOUNT = "/data";
const STATE_MOUNT = "/kopia";

/** Every backup Job's kopia-backup flags besides what it reads. */
const SUMMARY_AND_NO_CREATE = [
  "--summary-file", "/dev/termination-log",
  // operator-backup made sure the repository exists before any backup Job: a Job never creates one,
  // so Jobs starting together on empty storage can never write two repositories into one place.
  "--no-create",
];

/**
 * The backup Job for one PVC. Runs on the PVC's node (required node affinity on the node's name
 * plus the app pod's tolerations), mounts the PVC read-only, has no
 * service-account token, and reads the repository password only from a Secret.
 */
export function buildBackupJob(name: string, target: BackupTarget, settings: JobSettings): V1Job {
  const args = [
    "--path", DATA_MOUNT,
    "--hostname", kopiaHostname(target.namespace, settings.clusterName),
    "--username", target.pvc,
    ...SUMMARY_AND_NO_CREATE,
    ...claimTags(target.claim).map((tag) => `--tag=${tag}`),
    ...settings.backupArgs,
  ];
  return backupJob(name, { namespace: target.namespace, ...(target.node ? { node: target.node } : {}), targets: [target] }, settings, {
    where: target,
    args,
    mounts: [{ name: "data", mountPath: DATA_MOUNT, readOnly: true }],
    volumes: [{ name: "data", persistentVolumeClaim: { claimName: target.pvc, readOnly: true } }],
  });
}

/** Where a Job that reads several PVCs mounts each: a folder named for the PVC. */
export const groupMountOf = (pvc: string) => `/volumes/${pvc}`;

/**
 * The backup Job for the PVCs of one namespace on one node (one PVC: buildBackupJob's Job). Each is
 * mounted read-only at its own folder and snapshotted under its own identity (pvc@namespace:/data,
 * as if it were backed up alone), with one repository connection for all.
 */
export function buildGroupBackupJob(name: string, group: BackupGroup, settings: JobSettings): V1Job {
  if (group.targets.length === 1) return buildBackupJob(name, group.targets[0]!, settings);
  const volumes = group.targets.map((target) => ({ path: groupMountOf(target.pvc), username: target.pvc, tags: claimTags(target.claim) }));
  const args = [
    "--volumes", JSON.stringify(volumes),
    "--hostname", kopiaHostname(group.namespace, settings.clusterName),
    "--source-path", DATA_MOUNT,
    ...SUMMARY_AND_NO_CREATE,
    ...settings.backupArgs,
  ];
  const tolerations = group.targets.flatMap((target) => target.tolerations).filter((toleration, index, all) => all.findIndex((other) => JSON.stringify(other) === JSON.stringify(toleration)) === index);
  return backupJob(name, group, settings, {
    where: { ...(group.node ? { node: group.node } : {}), tolerations },
    args,
    mounts: group.targets.map((target, index) => ({ name: `data-${index}`, mountPath: groupMountOf(target.pvc), readOnly: true })),
    volumes: group.targets.map((target, index) => ({ name: `data-${index}`, persistentVolumeClaim: { claimName: target.pvc, readOnly: true } })),
  });
}

function backupJob(name: string, group: BackupGroup, settings: JobSettings, pod: { where: Parameters<typeof placement>[0]; args: string[]; mounts: V1VolumeMount[]; volumes: V1Volume[] }): V1Job {
  const pvcs = group.targets.map((target) => target.pvc).join(",");
  const labels = { ...settings.labels, ...runLabels(settings.runId, "backup"), [LABEL_PVC_HASH]: shortHash(`${group.namespace}/${pvcs}`, 16) };
  const annotations = { ...settings.annotations, [ANNOTATION_PVC]: pvcs, ...(group.node ? { [ANNOTATION_NODE]: group.node } : {}) };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: group.namespace, labels, annotations },
    spec: {
      backoffLimit: settings.backoffLimit,
      activeDeadlineSeconds: settings.activeDeadlineSeconds,
      template: {
        metadata: { labels, annotations },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...pullSecrets(settings),
          ...placement(pod.where),
          containers: [container("kopia-backup", name, pod.args, settings, pod.mounts, BACKUP_SECURITY)],
          volumes: [...pod.volumes, ...stateVolumes(settings), ...keyFilesVolumes(name, settings)],
        },
      },
    },
  };
}

/** Where a repository Job runs: where a backup runs (a filesystem repository is a node's folder). */
export type RepositoryJobPlacement = Partial<Pick<BackupTarget, "node" | "pvNodeAffinity" | "tolerations">>;

/**
 * kopia-maintenance as a Job, in the maintenance namespace, with the same repository and Secret as
 * the backups: `init` makes sure the repository exists before any backup Job starts; `maintenance`
 * runs after the backups.
 */
export function buildRepositoryJob(name: string, namespace: string, role: "init" | "maintenance", settings: JobSettings, where: RepositoryJobPlacement = {}): V1Job {
  const labels = { ...settings.labels, ...runLabels(settings.runId, role) };
  const securityContext = repositorySecurity(settings);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, labels, annotations: settings.annotations },
    spec: {
      backoffLimit: settings.backoffLimit,
      activeDeadlineSeconds: settings.activeDeadlineSeconds,
      template: {
        metadata: { labels, annotations: settings.annotations },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...pullSecrets(settings),
          ...placement({ ...where, tolerations: where.tolerations ?? [] }),
          // The key files are root's, readable by their owner only: a non-root Job reads them as their group.
          ...(settings.keyFiles && securityContext.runAsNonRoot ? { securityContext: { fsGroup: NON_ROOT_UID } } : {}),
          containers: [container("kopia-maintenance", name, role === "init" ? ["--init"] : [], settings, [], securityContext)],
          volumes: [...stateVolumes(settings), ...keyFilesVolumes(name, settings)],
        },
      },
    },
  };
}

/**
 * The Kopia host of a namespace's volumes: the namespace, or `<namespace>.<cluster name>` when a
 * cluster name is given. A namespace holds no dot, so the first dot always separates the two.
 */
export const kopiaHostname = (namespace: string, clusterName?: string) => (clusterName ? `${namespace}.${clusterName}` : namespace);

/** What a kopia-k8s Job does: operator-backup's backup, init and maintenance; operator-restore's resolve (pins a snapshot) and restore. */
export type JobRole = "backup" | "init" | "maintenance" | "resolve" | "restore";

export function runLabels(runId: string, role: JobRole): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_RUN_ID]: runId, [LABEL_ROLE]: role };
}

/** The per-Job Secret: owned by its Job, so it goes when the Job goes. */
export function buildCredentialsSecret(job: V1Job, data: Record<string, string>): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: job.metadata!.name!,
      namespace: job.metadata!.namespace!,
      labels: job.metadata!.labels!,
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata!.name!, uid: job.metadata!.uid!, blockOwnerDeletion: false, controller: false }],
    },
    stringData: data,
  };
}

/**
 * Backups read every file of the volume: root with all capabilities dropped but DAC_OVERRIDE, which
 * Pod Security's baseline level allows (DAC_READ_SEARCH it does not); the volume is mounted
 * read-only, so overriding write permissions changes nothing.
 */
const BACKUP_SECURITY: V1SecurityContext = {
  runAsUser: 0,
  runAsNonRoot: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"], add: ["DAC_OVERRIDE"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** A nobody without a passwd entry, as distroless images use. */
export const NON_ROOT_UID = 65532;

/**
 * Maintenance and init read no volume: Pod Security's restricted level (non-root, no capability).
 * A filesystem repository's files belong to the root of the backup Jobs, so there they run as root,
 * still without any capability (hostPath is beyond baseline anyway).
 */
export function repositorySecurity(settings: JobSettings): V1SecurityContext {
  const user = settings.repositoryHostPath ? { runAsUser: 0, runAsNonRoot: false } : { runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID, runAsNonRoot: true };
  return { ...user, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };
}

export function container(command: string, jobName: string, args: string[], settings: JobSettings, mounts: V1VolumeMount[], securityContext: V1SecurityContext): V1Container {
  return {
    name: command,
    image: settings.image,
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    command: [command],
    args,
    env: [
      { name: "KK_REPOSITORY", value: settings.repositoryUrl },
      { name: "KK_LOG_FORMAT", value: settings.logFormat },
      { name: "KK_CONFIG_PATH", value: `${STATE_MOUNT}/config` },
      { name: "KK_KOPIA_CACHE_PATH", value: `${STATE_MOUNT}/cache` },
      { name: "KK_KOPIA_LOG_PATH", value: `${STATE_MOUNT}/logs` },
      { name: "KK_KOPIA_CACHE_SIZE_MB", value: String(settings.cacheSizeMB) },
      ...(settings.pushgatewayUrl ? [{ name: "KK_PUSHGATEWAY_URL", value: settings.pushgatewayUrl }] : []),
      ...Object.entries(settings.keyFiles?.env ?? {}).map(([name, value]) => ({ name, value })),
      ...(settings.userSecretName ? [] : settings.secretEnvNames.map((name) => ({ name, valueFrom: { secretKeyRef: { name: jobName, key: name } } }))),
    ],
    ...(settings.userSecretName ? { envFrom: [{ secretRef: { name: settings.userSecretName } }] } : {}),
    resources: settings.resources,
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext,
    volumeMounts: [
      ...mounts,
      { name: "kopia-state", mountPath: STATE_MOUNT },
      { name: "tmp", mountPath: "/tmp" },
      ...(settings.repositoryHostPath ? [{ name: "repository", mountPath: settings.repositoryHostPath }] : []),
      ...(settings.keyFiles ? [{ name: "key-files", mountPath: KEY_FILES_MOUNT, readOnly: true }] : []),
    ],
  };
}

/** Readable by the owner only, as ssh wants a private key (the kubelet adds group read for a pod's fsGroup). */
const KEY_FILE_MODE = 0o400;

/** Only the key files' keys: the per-Job Secret's variables never become files. */
export function keyFilesVolumes(jobName: string, settings: JobSettings): V1Volume[] {
  if (!settings.keyFiles) return [];
  const items = settings.keyFiles.names.map((name) => ({ key: name, path: name, mode: KEY_FILE_MODE }));
  return [{ name: "key-files", secret: { secretName: settings.keyFiles.userSecretName ?? jobName, items, defaultMode: KEY_FILE_MODE } }];
}

export const pullSecrets = (settings: JobSettings) =>
  settings.imagePullSecrets.length ? { imagePullSecrets: settings.imagePullSecrets.map((name) => ({ name })) } : {};

export function stateVolumes(settings: JobSettings): V1Volume[] {
  return [
    // kopia's cache, config and logs: the cache's two halves may each reach the size given, plus
    // index caches and logs; past the limit the kubelet evicts the pod rather than fill the node's disk.
    { name: "kopia-state", emptyDir: { sizeLimit: `${settings.cacheSizeMB * 2 + 1024}Mi` } },
    { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
    ...(settings.repositoryHostPath ? [{ name: "repository", hostPath: { path: settings.repositoryHostPath, type: "Directory" } }] : []),
  ];
}

/** A cordoned node still runs the app whose volume a pinned Job backs up. */
const UNSCHEDULABLE_TOLERATION: V1Toleration = { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" };

/**
 * Pinned (a volume in use on a node): required node affinity on the node's name (as the DaemonSet
 * controller does), never podAffinity on app labels (any look-alike pod would match), nor the
 * kubernetes.io/hostname label, which differs from the node name wherever the kubelet runs with
 * --hostname-override; the app pod's tolerations, and the cordoned node's. Otherwise: a Linux node,
 * within the PV's own node affinity when it has one.
 */
export function placement(where: { node?: string; pvNodeAffinity?: V1NodeSelector; tolerations: V1Toleration[] }): Pick<V1PodSpec, "affinity" | "nodeSelector" | "tolerations"> {
  if (where.node) {
    const tolerations = where.tolerations.some((toleration) => toleration.key === UNSCHEDULABLE_TOLERATION.key) ? where.tolerations : [...where.tolerations, UNSCHEDULABLE_TOLERATION];
    return { ...nodeAffinity(where.node), tolerations };
  }
  return {
    nodeSelector: { "kubernetes.io/os": "linux" },
    ...(where.pvNodeAffinity ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: where.pvNodeAffinity } } } : {}),
    ...(where.tolerations.length ? { tolerations: where.tolerations } : {}),
  };
}

const nodeAffinity = (node: string): { affinity: V1Affinity } => ({
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }],
      },
    },
  },
});
