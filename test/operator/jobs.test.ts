import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { jobsIn, observeRuns, runOperator, startOperator } from "../support/operator.ts";
import { collect } from "../support/scripts.ts";
import { TEST_PASSWORD } from "../support/kopia.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("backup Jobs: parallelism, failures, timeouts, cleanup", () => {
  test("20 PVCs with concurrency 3: never more than 3 unfinished Jobs, all backed up", async () => {
    const namespace = await cluster.freshNamespace("concurrency");
    for (let index = 0; index < 20; index++) await cluster.createBoundPvc(namespace, `vol-${index}`);
    const observed = await observeRuns(cluster, [namespace]);
    const run = await runOperator(cluster, [namespace], ["--concurrency", "3", "--job-annotation", "kopia-k8s.test/run-duration=300ms"]);
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    expect(observed.jobs.size).toBe(20);
    expect(observed.maxUnfinished).toBe(3);
    expect(run.stdout).toContain("20 of 20 done");
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });

  test("the Job watch is resumed when the API server ends it, and the run still sees every Job finish", async () => {
    const namespace = await cluster.freshNamespace("rewatch");
    for (let index = 0; index < 4; index++) await cluster.createBoundPvc(namespace, `vol-${index}`);
    // The API server closes each watch after 1 s; the Jobs take 2.5 s.
    const run = await runOperator(cluster, [namespace], ["--concurrency", "2", "--debug", "--job-annotation", "kopia-k8s.test/run-duration=2500ms"], { KK_WATCH_TIMEOUT_SECONDS: "1" });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain("4 of 4 done");
    expect(run.stdout).toMatch(/job watch in namespace [a-z0-9-]+ ended; resuming from version \d+/);
  });

  test("a failing Job does not stop the others; it is kept; exit 7", async () => {
    const good = await cluster.freshNamespace("good");
    const bad = await cluster.freshNamespace("bad", { jobPods: "fail" });
    for (const namespace of [good, bad]) await cluster.createBoundPvc(namespace, "data");
    await cluster.createBoundPvc(good, "more");
    const run = await runOperator(cluster, [good, bad], ["--concurrency", "1"]);
    expect(run.exitCode, run.output).toBe(7);
    expect(await jobsIn(cluster, good)).toEqual([]);
    const kept = await jobsIn(cluster, bad);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True")).toBe(true);
    expect(run.stdout).toMatch(new RegExp(`${good}\\s+more\\s+\\S+\\s+success`));
    expect(run.stdout).toMatch(new RegExp(`${bad}\\s+data\\s+\\S+\\s+failed`));
    expect(run.stderr).toContain("1 of 3 backups failed; failed Jobs are kept for inspection");
  });

  test("a Job stuck Pending is deleted after --pending-timeout and counted failed", async () => {
    const namespace = await cluster.freshNamespace("stuck", { jobPods: "pending" });
    await cluster.createBoundPvc(namespace, "data");
    const run = await runOperator(cluster, [namespace], ["--pending-timeout", "2s"]);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).toMatch(/timed-out.*pod stayed Pending for 2s/);
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });

  test("a pod whose image cannot be pulled fails its Job well before --pending-timeout, with the kubelet's reason", async () => {
    const namespace = await cluster.freshNamespace("pull", { jobPods: "image-error" });
    await cluster.createBoundPvc(namespace, "data");
    // The check comes at half the pending timeout (10 s), well clear of the timeout itself.
    const run = await runOperator(cluster, [namespace], ["--pending-timeout", "20s"]);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).toMatch(/1 of 1 done: .*\/data failed on .*: pod cannot start: ErrImagePull: failed to pull and unpack image "kopia-k8s:0.1.0".*; Job deleted/);
    expect(run.output).not.toContain("stayed Pending");
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });

  test("a Job still running at --job-deadline is failed by the Job controller, kept, and reported with the reason; exit 7", async () => {
    const namespace = await cluster.freshNamespace("deadline", { jobPods: "hang" });
    await cluster.createBoundPvc(namespace, "data");
    const run = await runOperator(cluster, [namespace], ["--job-deadline", "3s"]);
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).toMatch(/1 of 1 done: .*\/data failed on .*: Job was active longer than specified deadline/);
    const [job] = await jobsIn(cluster, namespace);
    expect(job?.spec?.activeDeadlineSeconds).toBe(3);
    expect(job?.status?.conditions?.find((c) => c.type === "Failed")?.reason).toBe("DeadlineExceeded");
  });

  test("the Job spec holds no secret value, mounts the PVC read-only, has no service-account token, names the pull secret", async () => {
    const namespace = await cluster.freshNamespace("spec", { jobPods: "fail" });
    await cluster.createBoundPvc(namespace, "data");
    const secretKey = "s3-secret-that-must-not-leak";
    const run = await runOperator(cluster, [namespace], ["--image-pull-secret", "registry-lan"], { AWS_ACCESS_KEY_ID: "AKIATEST", AWS_SECRET_ACCESS_KEY: secretKey });
    expect(run.exitCode, run.output).toBe(7);
    const [job] = await jobsIn(cluster, namespace);
    const spec = JSON.stringify(job);
    expect(spec).not.toContain(TEST_PASSWORD);
    expect(spec).not.toContain(secretKey);
    const pod = job!.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.imagePullSecrets).toEqual([{ name: "registry-lan" }]);
    expect((await cluster.podsOfJob(namespace, job!.metadata!.name!))[0]?.spec?.imagePullSecrets).toEqual([{ name: "registry-lan" }]);
    expect(pod.volumes!.find((v) => v.name === "data")!.persistentVolumeClaim!.readOnly).toBe(true);
    expect(pod.containers[0]!.volumeMounts!.find((m) => m.name === "data")!.readOnly).toBe(true);
    const fromSecret = pod.containers[0]!.env!.filter((variable) => variable.valueFrom);
    expect(fromSecret.map((variable) => variable.valueFrom!.secretKeyRef)).toEqual(["KOPIA_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((key) => ({ name: job!.metadata!.name!, key })));
    expect(run.output).not.toContain(secretKey);
  });

  test("SIGTERM mid-run deletes this run's active Jobs and exits 143; two concurrent runs both succeed", async () => {
    const hanging = await cluster.freshNamespace("sigterm", { jobPods: "hang" });
    for (let index = 0; index < 4; index++) await cluster.createBoundPvc(hanging, `vol-${index}`);
    const child = await startOperator(cluster, [hanging], ["--concurrency", "2"]);
    const output = collect(child);
    const deadline = Date.now() + 30_000;
    while ((await jobsIn(cluster, hanging)).length < 2 && Date.now() < deadline) await Bun.sleep(100);
    expect(await jobsIn(cluster, hanging)).toHaveLength(2);
    child.kill("SIGTERM");
    const run = await output;
    expect(run.exitCode, run.output).toBe(143);
    expect(run.output).toContain("SIGTERM received");
    const left = await jobsIn(cluster, hanging);
    expect(left.every((job) => job.metadata?.deletionTimestamp)).toBe(true);

    const first = await cluster.freshNamespace("parallel-a");
    const second = await cluster.freshNamespace("parallel-b");
    for (const namespace of [first, second]) for (let index = 0; index < 3; index++) await cluster.createBoundPvc(namespace, `vol-${index}`);
    const args = ["--job-annotation", "kopia-k8s.test/run-duration=300ms"];
    const [runA, runB] = await Promise.all([runOperator(cluster, [first, second], args), runOperator(cluster, [first, second], args)]);
    expect(runA.exitCode, runA.output).toBe(0);
    expect(runB.exitCode, runB.output).toBe(0);
    expect(runA.stdout).toContain("6 of 6 done");
    expect(runB.stdout).toContain("6 of 6 done");
  });
});
