import type { BackupTarget } from "./plan.ts";

/** The PVCs one backup Job reads: one namespace, one node, snapshotted one after another. */
export interface BackupGroup {
  namespace: string;
  /** The node all of them are read on; undefined for a lone volume that is on no node yet. */
  node?: string;
  targets: BackupTarget[];
}

/**
 * The Jobs of a run: the PVCs of one namespace that must be read on one node share a Job, at most
 * `volumesPerJob` each, in plan order; a PVC on no node (its Job goes wherever the scheduler and
 * its PV allow) has a Job of its own. `volumesPerJob` 1 gives one Job per PVC.
 */
export function groupTargets(targets: BackupTarget[], volumesPerJob: number): BackupGroup[] {
  const groups: BackupGroup[] = [];
  const open = new Map<string, BackupGroup>();
  for (const target of targets) {
    if (target.node === undefined || volumesPerJob <= 1) {
      groups.push({ namespace: target.namespace, ...(target.node !== undefined ? { node: target.node } : {}), targets: [target] });
      continue;
    }
    const key = `${target.namespace}\n${target.node}`;
    let group = open.get(key);
    if (!group || group.targets.length >= volumesPerJob) {
      group = { namespace: target.namespace, node: target.node, targets: [] };
      open.set(key, group);
      groups.push(group);
    }
    group.targets.push(target);
  }
  return groups;
}
