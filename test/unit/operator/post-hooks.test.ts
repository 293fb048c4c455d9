import { describe, expect, test } from "bun:test";
import type { BackupTarget, HookPlan } from "../../../shared/operator/plan.ts";
import { PostHookQueue } from "../../../shared/operator/post-hooks.ts";

// Only what the queue reads; other fields of a hook do not matter here.
const hook = { namespace: "apps", pod: "app", container: "app", containers: ["app"], command: "unfreeze", timeoutMs: 1000 } as HookPlan;
const target = (pvc: string, mountedBy: string[]): BackupTarget => ({ namespace: "apps", pvc, tolerations: [], mountedBy, claim: { accessModes: [] } });

describe("PostHookQueue", () => {
  test("a pod listed twice for one claim gets its post-backup hook only after its other claim is backed up too", async () => {
    const ran: string[] = [];
    const [data, logs] = [target("data", ["app", "app"]), target("logs", ["app"])];
    const queue = new PostHookQueue([hook], [data, logs], async (h) => void ran.push(h.pod));
    queue.startIdle();
    queue.targetDone(data);
    await queue.drained();
    expect(ran).toEqual([]);
    queue.targetDone(logs);
    await queue.drained();
    expect(ran).toEqual(["app"]);
  });
});
