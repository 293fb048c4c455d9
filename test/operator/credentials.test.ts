import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { TEST_PASSWORD } from "../support/kopia.ts";
import { jobsIn, startOperator } from "../support/operator.ts";
import { waitFor } from "../support/processes.ts";
import { serviceAccountKubeconfig, shippedRules } from "../support/rbac.ts";
import { collect } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

describe("the per-Job credentials Secret", () => {
  test("holds the credentials while its Job runs and is deleted once the Job failed; the failed Job is kept (shipped RBAC)", async () => {
    const namespace = await cluster.freshNamespace("creds", { jobPods: "hang" });
    await cluster.createBoundPvc(namespace, "data");
    const kubeconfig = await serviceAccountKubeconfig(cluster, await shippedRules());
    const secretKey = "s3-secret-that-must-not-leak";
    const child = await startOperator(cluster, [namespace], [], { KUBECONFIG: kubeconfig, AWS_ACCESS_KEY_ID: "AKIATEST", AWS_SECRET_ACCESS_KEY: secretKey });
    const output = collect(child);
    await waitFor("the backup Job's pod", async () => (await jobsIn(cluster, namespace)).length === 1 && (await cluster.podsOfJob(namespace, (await jobsIn(cluster, namespace))[0]!.metadata!.name!)).length === 1);
    const [job] = await jobsIn(cluster, namespace);
    const jobName = job!.metadata!.name!;
    const secret = await cluster.core.readNamespacedSecret({ name: jobName, namespace });
    expect(Buffer.from(secret.data!.KOPIA_PASSWORD!, "base64").toString()).toBe(TEST_PASSWORD);
    expect(Buffer.from(secret.data!.AWS_SECRET_ACCESS_KEY!, "base64").toString()).toBe(secretKey);
    expect(secret.metadata!.ownerReferences![0]!.uid).toBe(job!.metadata!.uid!);

    const [pod] = await cluster.podsOfJob(namespace, jobName);
    await cluster.completePod(namespace, pod!.metadata!.name!, { exitCode: 1 });
    const run = await output;
    expect(run.exitCode, run.output).toBe(7);
    expect(run.output).not.toContain(secretKey);
    expect((await jobsIn(cluster, namespace)).map((kept) => kept.metadata!.name)).toEqual([jobName]);
    await expect(cluster.core.readNamespacedSecret({ name: jobName, namespace })).rejects.toMatchObject({ code: 404 });
  });
});
