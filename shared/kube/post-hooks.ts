import type { Logger } from "../log.ts";
import type { BackupTarget, HookPlan } from "./plan.ts";

/**
 * Post-backup hooks run one at a time, each as soon as every backup of its pod's volumes has
 * finished, whether those backups succeeded or not. A failing post hook fails the run, but does
 * not stop the backups of other pods.
 */
export class PostHookQueue {
  failures = 0;
  private readonly remaining = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly hooks: HookPlan[],
    targets: BackupTarget[],
    private readonly run: (hook: HookPlan) => Promise<void>,
    private readonly log: Logger,
  ) {
    for (const hook of hooks) {
      const count = targets.filter((target) => target.namespace === hook.namespace && target.mountedBy.includes(hook.pod)).length;
      this.remaining.set(`${hook.namespace}/${hook.pod}`, count);
    }
    this.targetsByPvc = new Map(targets.map((target) => [`${target.namespace}/${target.pvc}`, target]));
  }

  private readonly targetsByPvc: Map<string, BackupTarget>;

  /** Hooks of pods with nothing to back up run right away. */
  startIdle(): void {
    for (const hook of this.hooks) if (this.remaining.get(`${hook.namespace}/${hook.pod}`) === 0) this.enqueue(hook);
  }

  targetDone(namespace: string, pvc: string): void {
    for (const pod of this.targetsByPvc.get(`${namespace}/${pvc}`)?.mountedBy ?? []) {
      const key = `${namespace}/${pod}`;
      const left = this.remaining.get(key);
      if (left === undefined) continue;
      this.remaining.set(key, left - 1);
      const hook = this.hooks.find((candidate) => candidate.namespace === namespace && candidate.pod === pod);
      if (left - 1 === 0 && hook) this.enqueue(hook);
    }
  }

  drained(): Promise<void> {
    return this.chain;
  }

  private enqueue(hook: HookPlan): void {
    this.chain = this.chain.then(() =>
      this.run(hook).catch((error: Error) => {
        this.failures++;
        this.log.error(`post-backup ${error.message}`);
      }),
    );
  }
}
