import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, jobsIn, startOperator } from "../support/operator.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import { collect } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("post-backup hooks run as soon as their pod's backups are done", () => {
  test("one pod's post-backup hook runs while another namespace's backup is still running", async () => {
    const markers = await tempDir();
    const quick = await cluster.freshNamespace("post-quick");
    const slow = await cluster.freshNamespace("post-slow", { jobPods: "hang" });
    await cluster.createBoundPvc(quick, "data");
    await createAppPod(cluster, quick, "app", ["data"], { annotations: { "kopia-k8s.io/post-backup": `echo resuming writes; touch ${markers}/quick-post` } });
    await cluster.createBoundPvc(slow, "data");

    const child = await startOperator(cluster, [quick, slow], ["--log-format", "json", "--concurrency", "2"]); // one ordered stream
    const output = collect(child);
    await waitFor("the post-backup hook of the pod whose backup is done", () => Bun.file(`${markers}/quick-post`).exists(), 15_000);
    // The other backup has not ended: the test ends it only now.
    const [hanging] = await jobsIn(cluster, slow);
    expect(hanging?.status?.conditions?.some((c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"))).toBeFalsy();
    const [pod] = await cluster.podsOfJob(slow, hanging!.metadata!.name!);
    await cluster.completePod(slow, pod!.metadata!.name!);

    const run = await output;
    expect(run.exitCode, run.output).toBe(0);
    const hookOutput = run.stdout.indexOf(`[${quick}/app] resuming writes`);
    const slowDone = run.stdout.search(new RegExp(`2 of 2 done: ${slow}/data success`));
    expect(hookOutput).toBeGreaterThan(-1);
    expect(slowDone).toBeGreaterThan(hookOutput);
  });
});
