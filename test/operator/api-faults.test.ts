import { beforeAll, describe, expect, test } from "bun:test";
import { isWatch, startApiProxy, statusResponse, type ProxiedRequest } from "../support/api-proxy.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { jobsIn, runOperator, startOperator } from "../support/operator.ts";
import { collectWithin } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const isPodLookupIn = (namespace: string) => (request: ProxiedRequest) =>
  request.method === "GET" && request.url.pathname === `/api/v1/namespaces/${namespace}/pods` && (request.url.searchParams.get("labelSelector") ?? "").startsWith("batch.kubernetes.io/job-name=");

describe("the API server fails some requests", () => {
  test("a pod lookup that fails when the pending timer fires is retried: the healthy backup is kept", async () => {
    const namespace = await cluster.freshNamespace("lookup");
    await cluster.createBoundPvc(namespace, "data");
    const isLookup = isPodLookupIn(namespace);
    let refused = 0;
    // The first four lookups of the Job's pod fail; the pod runs for 4 s, twice the pending timeout.
    const proxy = await startApiProxy(cluster, (request) => (isLookup(request) && refused++ < 4 ? statusResponse(503, "ServiceUnavailable", "the server is currently unable to handle the request") : undefined));
    const run = await runOperator(cluster, [namespace], ["--pending-timeout", "2s", "--job-annotation", "kopia-k8s.test/run-duration=4s"], { KUBECONFIG: proxy.kubeconfigPath });
    expect(refused).toBeGreaterThanOrEqual(2);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/1 of 1 done: .*\/data success/);
    expect(run.output).toContain("could not look up the pod of Job");
    expect(run.output).not.toContain("stayed Pending");
  });

  test("a Kubernetes older than 1.27 is refused at start with the reason, before any hook or Job (exit 1)", async () => {
    const namespace = await cluster.freshNamespace("old-server");
    await cluster.createBoundPvc(namespace, "data");
    const proxy = await startApiProxy(cluster, (request) =>
      request.url.pathname === "/version" ? Response.json({ major: "1", minor: "26", gitVersion: "v1.26.15", platform: "linux/amd64" }) : undefined,
    );
    const run = await runOperator(cluster, [namespace], [], { KUBECONFIG: proxy.kubeconfigPath });
    expect(run.exitCode, run.output).toBe(1);
    expect(run.stderr).toContain("Kubernetes v1.26.15 is too old: operator-backup needs 1.27 or newer");
    expect(proxy.requests.filter((request) => request.url.pathname !== "/version")).toEqual([]);
    expect(await jobsIn(cluster, namespace)).toEqual([]);
  });
});
