/**
 * What a backup records about its PersistentVolumeClaim, as Kopia tags on every snapshot, so that a
 * restore into an empty cluster can recreate the claim from the repository alone.
 */
export interface ClaimRecord {
  /** The storage the claim requested, e.g. 10Gi. */
  size?: string;
  storageClass?: string;
  accessModes: string[];
  volumeMode?: string;
  /** The mounting pod's fsGroup and user, when it set them: the owners a restore should give files. */
  fsGroup?: number;
  runAsUser?: number;
}

const TAG = {
  size: "k8s-size",
  storageClass: "k8s-storage-class",
  accessModes: "k8s-access-modes",
  volumeMode: "k8s-volume-mode",
  fsGroup: "k8s-fsgroup",
  runAsUser: "k8s-run-as-user",
} as const;

/** `key:value` tags for kopia-backup --tag; a value never holds a space (kopia splits at the first colon). */
export function claimTags(record: ClaimRecord): string[] {
  const values: [string, string | undefined][] = [
    [TAG.size, record.size],
    [TAG.storageClass, record.storageClass],
    [TAG.accessModes, record.accessModes.length ? record.accessModes.join(",") : undefined],
    [TAG.volumeMode, record.volumeMode],
    [TAG.fsGroup, record.fsGroup?.toString()],
    [TAG.runAsUser, record.runAsUser?.toString()],
  ];
  return values.filter((entry): entry is [string, string] => Boolean(entry[1]) && !/\s/.test(entry[1]!)).map(([key, value]) => `${key}:${value}`);
}

/** The record back from a snapshot's tags as `kopia snapshot list --json` gives them ({"tag:k8s-size": "10Gi"}). */
export function claimFromTags(tags: Record<string, string> | undefined): ClaimRecord {
  const tag = (key: string) => tags?.[`tag:${key}`] || undefined;
  const number = (key: string) => {
    const value = tag(key);
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const record: ClaimRecord = { accessModes: tag(TAG.accessModes)?.split(",").filter(Boolean) ?? [] };
  const size = tag(TAG.size);
  const storageClass = tag(TAG.storageClass);
  const volumeMode = tag(TAG.volumeMode);
  const fsGroup = number(TAG.fsGroup);
  const runAsUser = number(TAG.runAsUser);
  return {
    ...record,
    ...(size ? { size } : {}),
    ...(storageClass ? { storageClass } : {}),
    ...(volumeMode ? { volumeMode } : {}),
    ...(fsGroup !== undefined ? { fsGroup } : {}),
    ...(runAsUser !== undefined ? { runAsUser } : {}),
  };
}
