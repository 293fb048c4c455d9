import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, runOperator } from "../support/operator.ts";
import { runCleanups, tempDir } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
afterAll(runCleanups);

/** A namespace with one app pod mounting one PVC, annotated with the given hooks. */
async function appWithHooks(annotations: Record<string, string>, options: { jobPods?: "succeed" | "fail"; containers?: string[] } = {}) {
  const namespace = await cluster.freshNamespace("hooks", { jobPods: options.jobPods ?? "succeed" });
  await cluster.createBoundPvc(namespace, "data");
  await createAppPod(cluster, namespace, "app", ["data"], { annotations, ...(options.containers ? { containers: options.containers } : {}) });
  return namespace;
}

describe("pre- and post-backup hooks through pods/exec", () => {
  test("a successful hook streams its output, then the backup Job runs; the seed's annotation key works", async () => {
    const marker = `${await tempDir()}/hook-ran`;
    const namespace = await appWithHooks({ "kopia.earthnet.ch/prebackup": `echo dumping database; echo 'to stderr' >&2; touch ${marker}` });
    const run = await runOperator(cluster, [namespace], ["--pre-backup-annotation", "kopia.earthnet.ch/prebackup"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`[${namespace}/app] dumping database`);
    expect(run.output).toContain(`[${namespace}/app] (stderr) to stderr`);
    expect(await Bun.file(marker).exists()).toBe(true);
    expect(run.output).toMatch(/1 of 1 done: .*\/data success/);
    expect(await jobsIn(cluster, namespace)).toEqual([]); // succeeded Jobs are deleted
  });

  const failures: [string, Record<string, string>, RegExp, string[]?][] = [
    ["a non-zero exit", { "kopia-k8s.io/pre-backup": "echo about to fail >&2; exit 3" }, /hook in pod .*\/app, container app: exited with code 3 \(about to fail\)/],
    ["a timeout", { "kopia-k8s.io/pre-backup": "sleep 30", "kopia-k8s.io/pre-backup-timeout": "1s" }, /hook in pod .*\/app, container app: timed out after 1s/],
    ["a missing container", { "kopia-k8s.io/pre-backup": "true", "kopia-k8s.io/pre-backup-container": "sidecar" }, /hook in pod .*\/app, container sidecar: cannot exec: .*sidecar/],
  ];
  for (const [name, annotations, error] of failures) {
    test(`${name} aborts the run with exit 6 before any Job exists`, async () => {
      const namespace = await appWithHooks(annotations);
      const run = await runOperator(cluster, [namespace]);
      expect(run.exitCode, run.output).toBe(6);
      expect(run.stderr).toMatch(error);
      expect(await jobsIn(cluster, namespace)).toEqual([]);
    });
  }

  test("an image without a shell: the error says so, exit 6, no Job", async () => {
    const namespace = await appWithHooks({ "kopia-k8s.io/pre-backup": "true" });
    // kwok runs exec on this host; an Exec with an empty PATH makes `sh` unfindable, as in a distroless image.
    const noShellDir = await tempDir();
    await cluster.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: "kwok.x-k8s.io", version: "v1alpha1", namespace, plural: "execs",
      body: { apiVersion: "kwok.x-k8s.io/v1alpha1", kind: "Exec", metadata: { name: "app", namespace }, spec: { execs: [{ local: { workDir: noShellDir, envs: [{ name: "PATH", value: noShellDir }] } }] } },
    });
    await Bun.sleep(500); // kwok picks the Exec up from its own watch
    const run = await runOperator(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(6);
    expect(run.stderr).toContain("the image has no shell (sh)");
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });

  test("a unitless hook timeout is refused, not defaulted (exit 2)", async () => {
    const namespace = await appWithHooks({ "kopia-k8s.io/pre-backup": "true", "kopia-k8s.io/pre-backup-timeout": "300" });
    const run = await runOperator(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(2);
    expect(run.stderr).toContain(`pod ${namespace}/app: annotation kopia-k8s.io/pre-backup-timeout: '300' is not a duration; give a unit`);
  });

  test("the post-backup hook runs after the pod's backup, even when the backup failed", async () => {
    const marker = `${await tempDir()}/post-ran`;
    const namespace = await appWithHooks({ "kopia-k8s.io/post-backup": `echo resuming writes; touch ${marker}` }, { jobPods: "fail" });
    const run = await runOperator(cluster, [namespace], ["--log-format", "json"]); // one ordered stream
    expect(run.exitCode, run.output).toBe(7);
    expect(run.stdout).toMatch(/1 of 1 done: .*\/data failed/);
    expect(run.stdout).toContain(`[${namespace}/app] resuming writes`);
    expect(run.stdout.indexOf("1 of 1 done")).toBeLessThan(run.stdout.indexOf("resuming writes"));
    expect(await Bun.file(marker).exists()).toBe(true);
    expect(await jobsIn(cluster, namespace)).toHaveLength(1); // the failed Job is kept
  });
});
