import { beforeAll, describe, expect, test } from "bun:test";
import { isWatch, startApiProxy, statusResponse, type ProxiedRequest } from "../support/api-proxy.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { jobsIn, runOperator, startOperator } from "../support/operator.ts";
import { waitFor } from "../support/processes.ts";
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

  test("every watch of the Jobs refused with 503: each re-watch backs off, and the run still ends with every backup", async () => {
    const namespace = await cluster.freshNamespace("watch-503");
    for (const pvc of ["data-0", "data-1"]) await cluster.createBoundPvc(namespace, pvc);
    const isJobWatch = (request: ProxiedRequest) => isWatch(request) && request.url.pathname === "/apis/batch/v1/jobs";
    const proxy = await startApiProxy(cluster, (request) => (isJobWatch(request) ? statusResponse(503, "ServiceUnavailable", "the server is currently unable to handle the request") : undefined));
    const started = Date.now();
    const child = await startOperator(cluster, [namespace], ["--job-annotation", "kopia-k8s.test/run-duration=1s"], { KUBECONFIG: proxy.kubeconfigPath });
    const run = await collectWithin(child, 45_000);
    const seconds = (Date.now() - started) / 1000;
    const watches = proxy.requests.filter(isJobWatch).length;
    const figures = `${watches} watches in ${seconds.toFixed(1)} s`;
    expect(run.timedOut, figures).toBe(false);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain("2 of 2 done");
    expect(watches, figures).toBeLessThanOrEqual(12);
  });

  test("every watch of the Jobs accepted but silent: the Jobs' own timers read their state, and the run ends with every backup", async () => {
    const namespace = await cluster.freshNamespace("watch-silent");
    await cluster.createBoundPvc(namespace, "data");
    const silent = () => new Response(new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode("\n")) }), { headers: { "content-type": "application/json" } });
    const proxy = await startApiProxy(cluster, (request) => (isWatch(request) && request.url.pathname === "/apis/batch/v1/jobs" ? silent() : undefined));
    // Not ready as far as the run knows, so the Job is looked at every 3 s (half the pending timeout).
    const child = await startOperator(cluster, [namespace], ["--pending-timeout", "6s", "--job-annotation", "kopia-k8s.test/run-duration=1s"], { KUBECONFIG: proxy.kubeconfigPath });
    const run = await collectWithin(child, 45_000);
    expect(run.timedOut, run.output).toBe(false);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toMatch(/1 of 1 done: .*\/data success/);
  });

  test("kube-apiserver stopped for 20 s mid-run: the run waits it out without a re-watch storm and finishes with every backup", async () => {
    const namespace = await cluster.freshNamespace("apiserver-down");
    for (let index = 0; index < 4; index++) await cluster.createBoundPvc(namespace, `data-${index}`);
    const child = await startOperator(cluster, [namespace], ["--concurrency", "2", "--debug", "--job-annotation", "kopia-k8s.test/run-duration=8s"]);
    const output = collectWithin(child, 180_000);
    // Both first Jobs and their Secrets exist: the run is only waiting for them when the API server goes.
    await waitFor("the first two Jobs and their Secrets", async () => {
      const secrets = await cluster.core.listNamespacedSecret({ namespace, labelSelector: "app.kubernetes.io/managed-by=kopia-k8s" });
      return (await jobsIn(cluster, namespace)).length === 2 && secrets.items.length === 2;
    });
    const restart = cluster.stopApiServer();
    await Bun.sleep(20_000);
    await restart();
    const run = await output;
    const rewatches = run.output.match(/job watch in [a-z0-9 -]+ (ended|failed)|listing this run's Jobs in [a-z0-9 -]+ failed/g)?.length ?? 0;
    expect(run.timedOut).toBe(false);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain("4 of 4 done");
    expect(rewatches, `${rewatches} re-watches`).toBeGreaterThan(0);
    expect(rewatches, `${rewatches} re-watches`).toBeLessThanOrEqual(15);
  });
});
