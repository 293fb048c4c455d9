import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, observeRuns, runOperator, runOperatorObserved, startOperator } from "../support/operator.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import { collect } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
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
    ["a missing container", { "kopia-k8s.io/pre-backup": "true", "kopia-k8s.io/pre-backup-container": "sidecar" }, /hook in pod .*\/app, container sidecar: the pod has no container 'sidecar' \(it has: app\)/],
  ];
  for (const [name, annotations, error] of failures) {
    test(`${name} aborts the run with exit 6 before any Job exists`, async () => {
      const namespace = await appWithHooks(annotations);
      const { run, jobsCreated } = await runOperatorObserved(cluster, [namespace]);
      expect(run.exitCode, run.output).toBe(6);
      expect(run.stderr).toMatch(error);
      expect(jobsCreated).toBe(0);
    });
  }

  test("an image without the shell: the error says so, exit 6, no Job", async () => {
    // kwok runs exec on this host, where sh always exists; a shell name no image has stands in for a
    // distroless image. The runtime's "executable file not found" is the same path a kubelet takes.
    const namespace = await appWithHooks({ "kopia-k8s.io/pre-backup": "true" });
    const { run, jobsCreated } = await runOperatorObserved(cluster, [namespace], ["--hook-shell", "kk-no-such-shell"]);
    expect(run.exitCode, run.output).toBe(6);
    expect(run.stderr).toContain(`hook in pod ${namespace}/app, container app: the image has no shell (kk-no-such-shell)`);
    expect(jobsCreated).toBe(0);
  });

  test("a unitless hook timeout is that pod's hook failure, not defaulted and not exit 2 for the whole cluster (exit 6)", async () => {
    const namespace = await appWithHooks({ "kopia-k8s.io/pre-backup": "true", "kopia-k8s.io/pre-backup-timeout": "300" });
    const run = await runOperator(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(6);
    expect(run.stderr).toContain(`hook in pod ${namespace}/app, container app: pod ${namespace}/app: annotation kopia-k8s.io/pre-backup-timeout: '300' is not a duration; give a unit`);
  });

  test("the post-backup hook runs after the pod's backup, even when the backup failed", async () => {
    const marker = `${await tempDir()}/post-ran`;
    const namespace = await appWithHooks({ "kopia-k8s.io/post-backup": `echo resuming writes; touch ${marker}` }, { jobPods: "fail" });
    const run = await runOperator(cluster, [namespace], ["--log-format", "json"]); // one ordered stream
    expect(run.exitCode, run.output).toBe(7);
    expect(run.stdout).toMatch(/1 of 1 done: .*\/data failed/);
    expect(run.stdout).toContain(`[${namespace}/app] resuming writes`);
    expect(run.stdout.indexOf("1 of 1 done")).toBeLessThan(run.stdout.indexOf(`[${namespace}/app] resuming writes`));
    expect(await Bun.file(marker).exists()).toBe(true);
    expect(await jobsIn(cluster, namespace)).toHaveLength(1); // the failed Job is kept
  });
});

describe("a run that stops early still runs the post-backup hooks of the pods it hooked", () => {
  test("a failed pre-backup hook: the pods hooked before it get their post-backup hooks, exit 6, no Job", async () => {
    const markers = await tempDir();
    const namespace = await cluster.freshNamespace("undo");
    await cluster.createBoundPvc(namespace, "data-a");
    await cluster.createBoundPvc(namespace, "data-b");
    // Pre-backup hooks run in pod order: a-app first (succeeds), then b-app (fails).
    await createAppPod(cluster, namespace, "a-app", ["data-a"], { annotations: { "kopia-k8s.io/pre-backup": "true", "kopia-k8s.io/post-backup": `touch ${markers}/a-post` } });
    await createAppPod(cluster, namespace, "b-app", ["data-b"], { annotations: { "kopia-k8s.io/pre-backup": "exit 3", "kopia-k8s.io/post-backup": `touch ${markers}/b-post` } });
    const { run, jobsCreated } = await runOperatorObserved(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(6);
    expect(run.output).toContain("running the post-backup hooks of 2 pod(s) whose pre-backup hook ran");
    expect(await Bun.file(`${markers}/a-post`).exists()).toBe(true);
    expect(await Bun.file(`${markers}/b-post`).exists()).toBe(true); // its pre hook may have half-run
    expect(jobsCreated).toBe(0);
  });

  test("SIGTERM during a pre-backup hook: no Job starts, the hooked pod's post-backup hook runs, exit 143", async () => {
    const markers = await tempDir();
    const namespace = await cluster.freshNamespace("sig-hook");
    await cluster.createBoundPvc(namespace, "data");
    // The hook holds until the test has sent the signal, so the signal surely lands during it.
    const hook = `touch ${markers}/pre; while [ ! -e ${markers}/go ]; do sleep 0.1; done`;
    await createAppPod(cluster, namespace, "app", ["data"], { annotations: { "kopia-k8s.io/pre-backup": hook, "kopia-k8s.io/post-backup": `touch ${markers}/post` } });
    const observed = await observeRuns(cluster, [namespace]);
    const child = await startOperator(cluster, [namespace], ["--log-format", "json"]); // one ordered stream
    const output = collect(child);
    await waitFor("the pre-backup hook to start", () => Bun.file(`${markers}/pre`).exists(), 30_000);
    child.kill("SIGTERM");
    await Bun.sleep(300);
    await Bun.write(`${markers}/go`, "");
    const run = await output;
    observed.stop();
    expect(run.exitCode, run.output).toBe(143);
    expect(run.stdout.indexOf("SIGTERM received")).toBeGreaterThan(-1);
    expect(run.stdout.indexOf("SIGTERM received")).toBeLessThan(run.stdout.indexOf(`pre-backup hook in ${namespace}/app succeeded`));
    expect(await Bun.file(`${markers}/post`).exists()).toBe(true);
    expect(observed.jobs.size).toBe(0);
  });

  test("SIGTERM with Jobs still queued: every pod's post-backup hook runs, queued ones included", async () => {
    const markers = await tempDir();
    const namespace = await cluster.freshNamespace("sig-queue", { jobPods: "hang" });
    for (const index of [0, 1, 2]) {
      await cluster.createBoundPvc(namespace, `data-${index}`);
      await createAppPod(cluster, namespace, `app-${index}`, [`data-${index}`], { annotations: { "kopia-k8s.io/post-backup": `touch ${markers}/post-${index}` } });
    }
    const child = await startOperator(cluster, [namespace], ["--concurrency", "1"]);
    const output = collect(child);
    await waitFor("the first Job", async () => (await jobsIn(cluster, namespace)).length > 0, 30_000);
    child.kill("SIGTERM");
    const run = await output;
    expect(run.exitCode, run.output).toBe(143);
    for (const index of [0, 1, 2]) expect(await Bun.file(`${markers}/post-${index}`).exists(), `post-${index}`).toBe(true);
    expect((await jobsIn(cluster, namespace)).every((job) => job.metadata?.deletionTimestamp)).toBe(true);
  });
});
