/** How many Jobs may be unfinished at once: over the whole run, and on any one node. */
export interface SlotLimits {
  total: number;
  /** Undefined: no bound per node. */
  perNode?: number;
}

/**
 * The index of the queued Job to start next, or -1: the first one in queue order whose node has a
 * free slot, while the run has one. A Job with no node yet (its volume is not on a node) counts
 * against the total only.
 */
export function nextStartable(queue: readonly { node?: string }[], runningNodes: readonly (string | undefined)[], limits: SlotLimits): number {
  if (runningNodes.length >= limits.total) return -1;
  const { perNode } = limits;
  if (perNode === undefined) return queue.length > 0 ? 0 : -1;
  const running = new Map<string, number>();
  for (const node of runningNodes) if (node !== undefined) running.set(node, (running.get(node) ?? 0) + 1);
  return queue.findIndex((item) => item.node === undefined || (running.get(item.node) ?? 0) < perNode);
}

/**
 * --concurrency's default: one Job per node that has volumes to back up, and never fewer than 3
 * (the bound before nodes counted): a small cluster runs as it always did, a large one backs up
 * its nodes side by side while --node-concurrency bounds each.
 */
export function defaultConcurrency(nodes: readonly (string | undefined)[]): number {
  return Math.max(3, new Set(nodes.filter((node) => node !== undefined)).size);
}
