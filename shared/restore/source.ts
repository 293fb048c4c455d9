import type { ListedSnapshot } from "./snapshots.ts";

/**
 * Which Kopia source(s) to look at. operator-backup backs a PVC up as `pvc@namespace:/data`
 * (`pvc@namespace.<cluster name>` with --cluster-name), so a namespace and PVC name a hostname
 * and username; any part left out matches every value.
 */
export interface SourceFilter {
  hostname?: string;
  username?: string;
  path?: string;
}

/** operator-backup's Kopia hostname for a namespace (the same rule as its Jobs'). */
export const hostnameOfNamespace = (namespace: string, clusterName?: string) => (clusterName ? `${namespace}.${clusterName}` : namespace);

export function matchesSource(snapshot: ListedSnapshot, filter: SourceFilter): boolean {
  const { host, userName, path } = snapshot.source;
  return (filter.hostname === undefined || host === filter.hostname) && (filter.username === undefined || userName === filter.username) && (filter.path === undefined || path === filter.path);
}

/** The filter as Kopia would write it, `*` for a part that matches anything: `data@apps:*`. */
export const describeFilter = (filter: SourceFilter) => `${filter.username ?? "*"}@${filter.hostname ?? "*"}:${filter.path ?? "*"}`;

/** Namespace and PVC read back from a source: a namespace holds no dot, so the first dot ends it. */
export function namespaceAndPvc(snapshot: ListedSnapshot): { namespace: string; pvc: string } {
  return { namespace: snapshot.source.host.split(".")[0]!, pvc: snapshot.source.userName };
}

/** The distinct source paths among snapshots, sorted. */
export const sourcePaths = (snapshots: ListedSnapshot[]) => [...new Set(snapshots.map((snapshot) => snapshot.source.path))].sort();
