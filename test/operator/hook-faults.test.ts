import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, runOperator, startOperator } from "../support/operator.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import { serviceAccountIdentity, shippedRules } from "../support/rbac.ts";
import { collectWithin } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

describe("post-backup hooks under faults", () => {
  test("a pod mounting one claim through two volumes gets its post-backup hook only after its other claim is backed up too", async () => {
    const namespace = await cluster.freshNamespace("two-mounts");
    await cluster.createBoundPvc(namespace, "data");
    await cluster.createBoundPvc(namespace, "logs");
    await createAppPod(cluster, namespace, "app", ["data", "data", "logs"], { annotations: { "kopia-k8s.io/post-backup": "echo resuming writes" } });
    // One Job at a time, in PVC order (data, then logs), each running a while.
    const run = await runOperator(cluster, [namespace], ["--concurrency", "1", "--log-format", "json", "--job-annotation", "kopia-k8s.test/run-duration=1500ms"]);
    expect(run.exitCode, run.output).toBe(0);
    const hookAt = run.stdout.indexOf(`[${namespace}/app] resuming writes`);
    expect(hookAt).toBeGreaterThan(-1);
    expect(run.stdout.indexOf("2 of 2 done")).toBeGreaterThan(-1);
    expect(run.stdout.indexOf("2 of 2 done")).toBeLessThan(hookAt);
  });

  /**
   * The pre-backup hook "freezes" the app (creates a file) and holds until `release`, the
   * post-backup hook "unfreezes" it. The run starts with the shipped rights; `revoke` takes one away
   * while the pre-backup hook holds, so that the refusal comes after it, whatever runs before hooks.
   */
  async function frozenAppRun(prefix: string) {
    const namespace = await cluster.freshNamespace(prefix);
    const folder = await tempDir();
    const frozen = `${folder}/frozen`;
    await cluster.createBoundPvc(namespace, "data");
    await createAppPod(cluster, namespace, "app", ["data"], {
      annotations: { "kopia-k8s.io/pre-backup": `touch ${frozen}; while [ ! -e ${folder}/go ]; do sleep 0.1; done`, "kopia-k8s.io/post-backup": `rm ${frozen}` },
    });
    const identity = await serviceAccountIdentity(cluster, await shippedRules());
    const child = await startOperator(cluster, [namespace], [], { KUBECONFIG: identity.kubeconfigPath });
    const output = collectWithin(child, 60_000);
    return {
      namespace,
      frozen,
      async revokeDuringPreHook(resource: string, group: string, verb: string) {
        await waitFor("the pre-backup hook to freeze the app", () => Bun.file(frozen).exists(), 30_000);
        await identity.revoke(resource, group, verb);
        await Bun.write(`${folder}/go`, "");
        return output;
      },
    };
  }

  for (const verb of ["list", "watch"]) {
    test(`the right to ${verb} Jobs gone after the pre-backup hook: the run ends at once with exit 1 naming that right, after the post-backup hook`, async () => {
      const app = await frozenAppRun(`no-${verb}`);
      const run = await app.revokeDuringPreHook("jobs", "batch", verb);
      expect(run.timedOut, run.output).toBe(false);
      expect(run.output).toContain(`pre-backup hook in ${app.namespace}/app succeeded`);
      expect(existsSync(app.frozen), "the app is still frozen").toBe(false);
      expect(run.exitCode, run.output).toBe(1);
      expect(run.stderr).toContain(`cannot ${verb} jobs`);
      expect(run.stderr).toContain(`the '${verb}' verb on jobs`);
      expect((await jobsIn(cluster, app.namespace)).filter((job) => !job.metadata?.deletionTimestamp)).toEqual([]);
    });
  }

  test("the right to create Jobs gone after the pre-backup hook: the backup fails with the API's reason, the post-backup hook runs, exit 7", async () => {
    const app = await frozenAppRun("no-create");
    const run = await app.revokeDuringPreHook("jobs", "batch", "create");
    expect(run.timedOut, run.output).toBe(false);
    expect(run.output).toContain(`pre-backup hook in ${app.namespace}/app succeeded`);
    expect(existsSync(app.frozen), "the app is still frozen").toBe(false);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).toMatch(/1 of 1 done: .*\/data failed on .*: could not create Job .*cannot create resource "jobs"/);
  });
});
