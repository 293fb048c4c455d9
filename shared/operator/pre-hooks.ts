import { KkError } from "../exit-codes.ts";
import { log } from "../log.ts";
import type { HookPlan } from "./plan.ts";
import { undoPreHooks } from "./post-hooks.ts";

export interface PreHookResult {
  /** Every hook that was started, the failed ones included: their pods get a post-backup hook. */
  started: HookPlan[];
  /** Hooks that failed with on-error "continue": their pods' volumes are left out. */
  failed: HookPlan[];
}

/**
 * Runs the pre-backup hooks one by one, until all ran or `signal` aborts. With on-error "continue"
 * (the flag or the pod's annotation) a failed hook only costs its pod's volumes. A failure that
 * aborts the run first runs the post-backup hooks of every pod whose pre-backup hook ran: a pod
 * that froze writes must not stay frozen.
 */
export async function runPreHooks(
  hooks: HookPlan[],
  { runPre, runPost, postHooks, signal }: { runPre: (hook: HookPlan) => Promise<void>; runPost: (hook: HookPlan) => Promise<void>; postHooks: HookPlan[]; signal: AbortSignal },
): Promise<PreHookResult> {
  const started: HookPlan[] = [];
  const failed: HookPlan[] = [];
  try {
    for (const hook of hooks) {
      if (signal.aborted) break;
      started.push(hook);
      try {
        await runPre(hook);
      } catch (error) {
        if (hook.onError !== "continue" || !(error instanceof KkError)) throw error;
        log.error(`${error.message}; going on without the volumes of ${hook.namespace}/${hook.pod} (on error: continue)`);
        failed.push(hook);
      }
    }
  } catch (error) {
    await undoPreHooks(postHooks, started, runPost);
    throw error;
  }
  return { started, failed };
}
