import type { V1Job, V1NodeSelector, V1SecurityContext, V1Toleration } from "@kubernetes/client-node";
import { container, keyFilesVolumes, NON_ROOT_UID, placement, pullSecrets, repositorySecurity, runLabels, stateVolumes, type JobRole, type JobSettings } from "../job-spec.ts";
import { ANNOTATION_NODE, ANNOTATION_PVC, LABEL_PVC_HASH, shortHash } from "../names.ts";
import type { PvcRef } from "../operator-restore-options.ts";

/** A restore into one PVC, and where its Job must run. */
export interface RestoreTarget extends PvcRef {
  /** The Kopia source it reads: the backed-up PVC. */
  source: PvcRef;
  /** The snapshot the resolve Job pinned. */
  snapshotId: string;
  subpath?: string;
  /** The node of a running pod that mounts a single-node volume (--allow-running): the Job must run there. */
  node?: string;
  /** The bound PV's node affinity, when it has one. */
  pvNodeAffinity?: V1NodeSelector;
  tolerations: V1Toleration[];
}

/**
 * A faithful restore writes every file as its owner with its mode: root, with all capabilities
 * dropped but CHOWN (give files their owners), FOWNER (set modes and times on files it does not
 * own), DAC_OVERRIDE (write into folders such as a 0500 one) and FSETID (keep setgid bits).
 */
export const RESTORE_SECURITY: V1SecurityContext = {
  runAsUser: 0,
  runAsNonRoot: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"], add: ["CHOWN", "FOWNER", "DAC_OVERRIDE", "FSETID"] },
  seccompProfile: { type: "RuntimeDefault" },
};

const SUMMARY = ["--summary-file", "/dev/termination-log"];
const sourceArgs = (source: PvcRef, settings: JobSettings) => ["--namespace", source.namespace, "--pvc", source.pvc, ...(settings.clusterName ? ["--cluster-name", settings.clusterName] : [])];

/**
 * A short Job that mounts no volume and has no token: kopia-restore picks the snapshot (a dry run)
 * and reports it as its termination message, so the workstation needs no kopia and the choice is
 * made once. Without `source`, it lists the repository's sources instead (disaster recovery).
 */
export function buildResolveJob(name: string, namespace: string, settings: JobSettings, what: { source: PvcRef; selectionArgs: string[]; subpath?: string } | { list: true }, repositoryNode?: string): V1Job {
  const args = "list" in what
    ? ["--list", "--all", ...SUMMARY]
    : [...sourceArgs(what.source, settings), ...what.selectionArgs, ...(what.subpath ? ["--subpath", what.subpath] : []), "--dry-run", ...SUMMARY];
  const annotations = { ...settings.annotations, ...("list" in what ? {} : { [ANNOTATION_PVC]: what.source.pvc }) };
  const securityContext = repositorySecurity(settings);
  return job(name, namespace, "resolve", settings, annotations, {
    ...placement({ ...(repositoryNode ? { node: repositoryNode } : {}), tolerations: [] }),
    // The key files are root's, readable by their owner only: a non-root Job reads them as their group.
    ...(settings.keyFiles && securityContext.runAsNonRoot ? { securityContext: { fsGroup: NON_ROOT_UID } } : {}),
    containers: [container("kopia-restore", name, args, settings, [], securityContext)],
    volumes: [...stateVolumes(settings), ...keyFilesVolumes(name, settings)],
  });
}

/**
 * The PVC is mounted one level below a small writable folder, not at /data: on finishing a folder,
 * kopia removes a `<folder>.kopia-entry` placeholder beside it, and under a read-only root
 * filesystem that unlink fails (EROFS) even for a name that does not exist.
 */
const RESTORE_PARENT = "/restore";
export const RESTORE_MOUNT = `${RESTORE_PARENT}/data`;

/**
 * The restore Job for one PVC: mounts it read-write, no service-account token, the pinned snapshot
 * only, placed as a backup Job would be (the app's node for a single-node volume in use, else
 * within the PV's node affinity; never a nodeName, so a WaitForFirstConsumer volume binds to it).
 */
export function buildRestoreJob(name: string, target: RestoreTarget, settings: JobSettings, writeArgs: string[]): V1Job {
  const args = [
    ...sourceArgs(target.source, settings),
    "--snapshot", target.snapshotId,
    ...(target.subpath ? ["--subpath", target.subpath] : []),
    "--target", target.subpath ? `${RESTORE_MOUNT}/${target.subpath}` : RESTORE_MOUNT,
    ...writeArgs,
    ...SUMMARY,
  ];
  const annotations = { ...settings.annotations, [ANNOTATION_PVC]: target.pvc, ...(target.node ? { [ANNOTATION_NODE]: target.node } : {}) };
  const restored = job(name, target.namespace, "restore", settings, annotations, {
    ...placement(target),
    containers: [container("kopia-restore", name, args, settings, [{ name: "restore-parent", mountPath: RESTORE_PARENT }, { name: "data", mountPath: RESTORE_MOUNT }], RESTORE_SECURITY)],
    volumes: [
      { name: "restore-parent", emptyDir: { sizeLimit: "1Mi" } },
      { name: "data", persistentVolumeClaim: { claimName: target.pvc } },
      ...stateVolumes(settings),
      ...keyFilesVolumes(name, settings),
    ],
  });
  restored.metadata!.labels![LABEL_PVC_HASH] = shortHash(`${target.namespace}/${target.pvc}`, 16);
  restored.spec!.template.metadata!.labels = restored.metadata!.labels;
  return restored;
}

function job(name: string, namespace: string, role: JobRole, settings: JobSettings, annotations: Record<string, string>, pod: Omit<NonNullable<NonNullable<V1Job["spec"]>["template"]["spec"]>, "restartPolicy">): V1Job {
  const labels = { ...settings.labels, ...runLabels(settings.runId, role) };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace, labels, annotations },
    spec: {
      backoffLimit: settings.backoffLimit,
      activeDeadlineSeconds: settings.activeDeadlineSeconds,
      template: {
        metadata: { labels, annotations },
        spec: { restartPolicy: "Never", automountServiceAccountToken: false, enableServiceLinks: false, ...pullSecrets(settings), ...pod },
      },
    },
  };
}
