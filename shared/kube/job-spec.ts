import type { V1Affinity, V1Container, V1Job, V1ResourceRequirements, V1Secret, V1Toleration, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { ANNOTATION_NODE, ANNOTATION_PVC, LABEL_MANAGED_BY, LABEL_PVC_HASH, LABEL_ROLE, LABEL_RUN_ID, MANAGED_BY, shortHash } from "./names.ts";
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
  /** The Secret the container's environment comes from: per Job (named like it) or the user's. */
  userSecretName?: string;
  resources: V1ResourceRequirements;
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

export const DATA_MOUNT = "/data";
const STATE_MOUNT = "/kopia";

/**
 * The backup Job for one PVC. Runs on the PVC's node (required node affinity on the node's name
 * plus the app pod's tolerations), mounts the PVC read-only, has no
 * service-account token, and reads the repository password only from a Secret.
 */
export function buildBackupJob(name: string, target: BackupTarget, settings: JobSettings): V1Job {
  const labels = { ...settings.labels, ...runLabels(settings.runId, "backup"), [LABEL_PVC_HASH]: shortHash(`${target.namespace}/${target.pvc}`, 16) };
  const annotations = { ...settings.annotations, [ANNOTATION_PVC]: target.pvc, ...(target.node ? { [ANNOTATION_NODE]: target.node } : {}) };
  const args = [
    "--path", DATA_MOUNT,
    "--hostname", kopiaHostname(target.namespace, settings.clusterName),
    "--username", target.pvc,
    "--summary-file", "/dev/termination-log",
    // operator-backup made sure the repository exists before any backup Job: a Job never creates one,
    // so Jobs starting together on empty storage can never write two repositories into one place.
    "--no-create",
    ...settings.backupArgs,
  ];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: target.namespace, labels, annotations },
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
          ...placement(target),
          ...(target.tolerations.length ? { tolerations: target.tolerations } : {}),
          containers: [container("kopia-backup", name, args, settings, [{ name: "data", mountPath: DATA_MOUNT, readOnly: true }])],
          volumes: [{ name: "data", persistentVolumeClaim: { claimName: target.pvc, readOnly: true } }, ...stateVolumes(settings)],
        },
      },
    },
  };
}

/** Where a repository Job runs: pinned to a node that runs backups (a filesystem repository is that node's folder). */
export interface RepositoryJobPlacement {
  node?: string;
  tolerations?: V1Toleration[];
}

/**
 * kopia-maintenance as a Job, in the maintenance namespace, with the same repository and Secret as
 * the backups: `init` makes sure the repository exists before any backup Job starts; `maintenance`
 * runs after the backups.
 */
export function buildRepositoryJob(name: string, namespace: string, role: "init" | "maintenance", settings: JobSettings, placement: RepositoryJobPlacement = {}): V1Job {
  const labels = { ...settings.labels, ...runLabels(settings.runId, role) };
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
          ...(placement.node ? nodeAffinity(placement.node) : {}),
          ...(placement.tolerations?.length ? { tolerations: placement.tolerations } : {}),
          containers: [container("kopia-maintenance", name, role === "init" ? ["--init"] : [], settings, [])],
          volumes: stateVolumes(settings),
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

export function runLabels(runId: string, role: "backup" | "init" | "maintenance"): Record<string, string> {
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

function container(command: string, jobName: string, args: string[], settings: JobSettings, mounts: V1VolumeMount[]): V1Container {
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
      ...(settings.pushgatewayUrl ? [{ name: "KK_PUSHGATEWAY_URL", value: settings.pushgatewayUrl }] : []),
    ],
    envFrom: [{ secretRef: { name: settings.userSecretName ?? jobName } }],
    resources: settings.resources,
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: {
      // Root without the usual capabilities, plus DAC_READ_SEARCH to read every file of the volume.
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH"] },
    },
    volumeMounts: [
      ...mounts,
      { name: "kopia-state", mountPath: STATE_MOUNT },
      { name: "tmp", mountPath: "/tmp" },
      ...(settings.repositoryHostPath ? [{ name: "repository", mountPath: settings.repositoryHostPath }] : []),
    ],
  };
}

const pullSecrets = (settings: JobSettings) =>
  settings.imagePullSecrets.length ? { imagePullSecrets: settings.imagePullSecrets.map((name) => ({ name })) } : {};

function stateVolumes(settings: JobSettings): V1Volume[] {
  return [
    { name: "kopia-state", emptyDir: {} },
    { name: "tmp", emptyDir: {} },
    ...(settings.repositoryHostPath ? [{ name: "repository", hostPath: { path: settings.repositoryHostPath, type: "Directory" } }] : []),
  ];
}

/**
 * Required node affinity on the node's name (as the DaemonSet controller does), never podAffinity on
 * app labels (any look-alike pod would match), nor the kubernetes.io/hostname label, which differs
 * from the node name wherever the kubelet runs with --hostname-override.
 */
function placement(target: BackupTarget): { affinity?: V1Affinity } {
  if (target.node) return nodeAffinity(target.node);
  if (target.pvNodeAffinity) return { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: target.pvNodeAffinity } } };
  return {};
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
