import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, runOperator, startOperator } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import { serviceAccountKubeconfig, shippedRules, withoutVerb } from "../support/rbac.ts";
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

  // The pre-backup hook "freezes" the app (creates a file), the post-backup hook "unfreezes" it.
  async function frozenApp(prefix: string) {
    const namespace = await cluster.freshNamespace(prefix, { jobPods: "hang" });
    const frozen = `${await tempDir()}/frozen`;
    await cluster.createBoundPvc(namespace, "data");
    await createAppPod(cluster, namespace, "app", ["data"], { annotations: { "kopia-k8s.io/pre-backup": `touch ${frozen}`, "kopia-k8s.io/post-backup": `rm ${frozen}` } });
    return { namespace, frozen };
  }

  for (const verb of ["list", "watch"]) {
    test(`without the right to ${verb} Jobs: the run ends at once with exit 1 naming that right, after the post-backup hook`, async () => {
      const { namespace, frozen } = await frozenApp(`no-${verb}`);
      const kubeconfig = await serviceAccountKubeconfig(cluster, withoutVerb(await shippedRules(), "jobs", verb));
      const child = await startOperator(cluster, [namespace], [], { KUBECONFIG: kubeconfig });
      const run = await collectWithin(child, 45_000);
      expect(run.timedOut, run.output).toBe(false);
      expect(run.output).toContain(`pre-backup hook in ${namespace}/app succeeded`);
      expect(existsSync(frozen), "the app is still frozen").toBe(false);
      expect(run.exitCode, run.output).toBe(1);
      expect(run.stderr).toContain(`cannot ${verb} jobs`);
      expect(run.stderr).toContain(`the '${verb}' verb on jobs`);
      expect((await jobsIn(cluster, namespace)).filter((job) => !job.metadata?.deletionTimestamp)).toEqual([]);
    });
  }

  test("without the right to create Jobs: each backup fails with the API's reason, the post-backup hook runs, exit 7", async () => {
    const { namespace, frozen } = await frozenApp("no-create");
    const kubeconfig = await serviceAccountKubeconfig(cluster, withoutVerb(await shippedRules(), "jobs", "create"));
    const child = await startOperator(cluster, [namespace], [], { KUBECONFIG: kubeconfig });
    const run = await collectWithin(child, 45_000);
    expect(run.timedOut, run.output).toBe(false);
    expect(run.output).toContain(`pre-backup hook in ${namespace}/app succeeded`);
    expect(existsSync(frozen), "the app is still frozen").toBe(false);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).toMatch(/1 of 1 done: .*\/data failed on .*: could not create Job .*cannot create resource "jobs"/);
  });
});
