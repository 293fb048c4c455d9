import { log } from "../log.ts";
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
  private readonly queued = new Set<HookPlan>();

  constructor(
    private readonly hooks: HookPlan[],
    targets: BackupTarget[],
    private readonly run: (hook: HookPlan) => Promise<void>,
  ) {
    for (const hook of hooks) {
      const count = targets.filter((target) => target.namespace === hook.namespace && target.mountedBy.includes(hook.pod)).length;
      this.remaining.set(`${hook.namespace}/${hook.pod}`, count);
    }
  }

  /** Hooks of pods with nothing to back up run right away. */
  startIdle(): void {
    for (const hook of this.hooks) if (this.remaining.get(`${hook.namespace}/${hook.pod}`) === 0) this.enqueue(hook);
  }

  /** One backup ended, however: the hooks of pods whose every backup has ended are queued. */
  targetDone(target: BackupTarget): void {
    const { namespace } = target;
    for (const pod of new Set(target.mountedBy)) {
      const key = `${namespace}/${pod}`;
      const left = this.remaining.get(key);
      if (left === undefined) continue;
      this.remaining.set(key, left - 1);
      const hook = this.hooks.find((candidate) => candidate.namespace === namespace && candidate.pod === pod);
      if (left - 1 === 0 && hook) this.enqueue(hook);
    }
  }

  /** Resolves once every hook queued so far, and any queued while waiting, has run. */
  async drained(): Promise<void> {
    for (let last: Promise<void> | undefined; last !== this.chain; ) {
      last = this.chain;
      await last;
    }
  }

  /** The hooks not queued yet: their pods still have backups that never reported an end. */
  notQueued(): HookPlan[] {
    return this.hooks.filter((hook) => !this.queued.has(hook));
  }

  private enqueue(hook: HookPlan): void {
    this.queued.add(hook);
    this.chain = this.chain.then(() =>
      this.run(hook).catch((error: Error) => {
        this.failures++;
        log.error(`post-backup ${error.message}`);
      }),
    );
  }
}

/**
 * The run stops before any backup: runs, one at a time, the post-backup hooks of the pods whose
 * pre-backup hook was started (the one that failed included: it may have half-done its work).
 * Failures are logged; the run's own error or signal decides the exit code.
 */
export async function undoPreHooks(postHooks: HookPlan[], startedPreHooks: HookPlan[], run: (hook: HookPlan) => Promise<void>): Promise<void> {
  const started = new Set(startedPreHooks.map((hook) => `${hook.namespace}/${hook.pod}`));
  const undo = postHooks.filter((hook) => started.has(`${hook.namespace}/${hook.pod}`));
  if (undo.length > 0) log.warn(`the run stops before its backups: running the post-backup hooks of ${undo.length} pod(s) whose pre-backup hook ran`);
  for (const hook of undo) {
    await run(hook).catch((error: Error) => log.error(`post-backup ${error.message}`));
  }
}
