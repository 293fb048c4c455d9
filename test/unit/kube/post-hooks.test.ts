import { describe, expect, test } from "bun:test";
import { createConsola } from "consola/core";
import type { BackupTarget, HookPlan } from "../../../shared/kube/plan.ts";
import { PostHookQueue } from "../../../shared/kube/post-hooks.ts";

// Only what the queue reads; other fields of a hook do not matter here.
const hook = { namespace: "apps", pod: "app", container: "app", containers: ["app"], command: "unfreeze", timeoutMs: 1000 } as HookPlan;
const target = (pvc: string, mountedBy: string[]): BackupTarget => ({ namespace: "apps", pvc, tolerations: [], mountedBy });

describe("PostHookQueue", () => {
  test("a pod listed twice for one claim gets its post-backup hook only after its other claim is backed up too", async () => {
    const ran: string[] = [];
    const queue = new PostHookQueue([hook], [target("data", ["app", "app"]), target("logs", ["app"])], async (h) => void ran.push(h.pod), createConsola({ reporters: [] }));
    queue.startIdle();
    queue.targetDone("apps", "data");
    await queue.drained();
    expect(ran).toEqual([]);
    queue.targetDone("apps", "logs");
    await queue.drained();
    expect(ran).toEqual(["app"]);
  });
});
