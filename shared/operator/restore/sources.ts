import { DATA_MOUNT } from "../job-spec.ts";
import type { PvcRef } from "../operator-restore-options.ts";

/**
 * The PVCs among a repository's sources (`pvc@host:/path`): operator-backup's, whose path is the
 * Jobs' mount and whose host is the namespace (`namespace.<cluster name>` with --cluster-name);
 * kopia-backup's own sources from hosts are left out. Only `namespaces` when given.
 */
export function pvcsOfSources(sources: string[], filter: { clusterName?: string; namespaces: string[] }): PvcRef[] {
  const pvcs: PvcRef[] = [];
  for (const source of sources) {
    const match = /^(.+)@([^@:]+):(.*)$/.exec(source);
    if (!match || match[3] !== DATA_MOUNT) continue;
    const [, pvc, host] = match as unknown as [string, string, string];
    const [namespace, ...cluster] = host.split(".");
    if ((cluster.join(".") || undefined) !== filter.clusterName) continue;
    if (filter.namespaces.length && !filter.namespaces.includes(namespace!)) continue;
    pvcs.push({ namespace: namespace!, pvc });
  }
  return pvcs.sort((a, b) => `${a.namespace}/${a.pvc}`.localeCompare(`${b.namespace}/${b.pvc}`));
}
