import { createHash } from "node:crypto";

/** Labels and annotations kopia-k8s puts on what it creates, and reads from users' objects. */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "kopia-k8s";
export const LABEL_RUN_ID = "kopia-k8s.io/run-id";
export const LABEL_ROLE = "kopia-k8s.io/role";
/** A hash of namespace/PVC: label values are limited to 63 characters, PVC names are not. */
export const LABEL_PVC_HASH = "kopia-k8s.io/pvc-hash";
export const ANNOTATION_PVC = "kopia-k8s.io/pvc";
export const ANNOTATION_NODE = "kopia-k8s.io/node";
/** On a PVC or a pod: "false" opts it out of backups. */
export const ANNOTATION_BACKUP = "kopia-k8s.io/backup";

const MAX_NAME = 63;

export function shortHash(text: string, length = 8): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** Lower-case alphanumerics and '-', no leading/trailing '-': safe inside a DNS label. */
export function dnsLabelPart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
}

/**
 * `<prefix>-<run id>-<readable part of the PVC name>-<hash of namespace/PVC>`: a valid DNS label of
 * at most 63 characters. The hash keeps names unique when long PVC names share a prefix and the
 * readable part is cut.
 */
export function backupJobName(prefix: string, runId: string, namespace: string, pvc: string): string {
  const hash = shortHash(`${namespace}/${pvc}`);
  const head = `${dnsLabelPart(prefix)}-${runId}-`;
  const room = MAX_NAME - head.length - hash.length - 1;
  const readable = dnsLabelPart(dnsLabelPart(pvc).slice(0, Math.max(0, room)));
  return readable ? `${head}${readable}-${hash}` : `${head}${hash}`;
}

/** A run id: `--uuid` if given (the seed's flag), else 8 random hex characters. */
export function newRunId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 8);
}

export function isDnsLabel(text: string): boolean {
  return text.length <= MAX_NAME && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(text);
}

/** A DNS subdomain, as a Secret's name must be: lower-case letters, digits, '-' and '.', at most 253. */
export function isSecretName(text: string): boolean {
  return text.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text);
}
