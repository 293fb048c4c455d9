/**
 * The test cluster behaves like a real one where kopia-k8s depends on it: scheduling, the job
 * controller, garbage collection, PV binding, watches and pods/exec.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { type V1Job, type V1Pod, type V1PodSpec, type V1Status, Watch } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { hostnameOf, outcomeAnnotations, type PodOutcome, sharedCluster, type TestCluster } from "../support/cluster.ts";
import { tempDir, waitFor } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const container = { name: "main", image: "registry.invalid/kopia-k8s-test:never-pulled" };

async function createPod(namespace: string, name: string, spec: Partial<V1PodSpec> = {}): Promise<void> {
  await cluster.core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { containers: [container], ...spec } } });
}

async function readPod(namespace: string, name: string): Promise<V1Pod> {
  return cluster.core.readNamespacedPod({ name, namespace });
}

async function podReaches(namespace: string, name: string, check: (pod: V1Pod) => boolean): Promise<V1Pod> {
  await waitFor(`pod ${namespace}/${name}`, async () => check(await readPod(namespace, name)));
  return readPod(namespace, name);
}

function jobBody(name: string, options: { outcome?: PodOutcome; annotations?: Record<string, string>; backoffLimit?: number } = {}): V1Job {
  const annotations = options.annotations ?? (options.outcome ? outcomeAnnotations(options.outcome) : undefined);
  return {
    metadata: { name },
    spec: {
      backoffLimit: options.backoffLimit ?? 0,
      template: { metadata: { annotations }, spec: { restartPolicy: "Never", containers: [container] } },
    },
  };
}

function jobCondition(job: V1Job | undefined): string | undefined {
  return job?.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")?.type;
}

async function jobEnds(namespace: string, name: string): Promise<string> {
  await waitFor(`job ${namespace}/${name} to end`, async () => jobCondition(await cluster.batch.readNamespacedJob({ name, namespace })) !== undefined, 60_000);
  return jobCondition(await cluster.batch.readNamespacedJob({ name, namespace }))!;
}

describe("scheduling", () => {
  test("required node affinity on kubernetes.io/hostname puts each pod on its node", async () => {
    const namespace = await cluster.freshNamespace("affinity");
    expect(cluster.nodes).toHaveLength(3);
    for (const node of cluster.nodes) {
      await createPod(namespace, `on-${node}`, {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] }],
            },
          },
        },
      });
    }
    for (const node of cluster.nodes) {
      const pod = await podReaches(namespace, `on-${node}`, (p) => p.status?.phase === "Running");
      expect(pod.spec?.nodeName).toBe(node);
    }
  });

  test("only a pod tolerating the taint lands on the tainted node", async () => {
    const namespace = await cluster.freshNamespace("taint");
    const nodeSelector = { "kubernetes.io/hostname": hostnameOf(cluster.taintedNode) };
    const { key, value, effect } = cluster.taint;
    await createPod(namespace, "tolerating", { nodeSelector, tolerations: [{ key, operator: "Equal", value, effect }] });
    await createPod(namespace, "intolerant", { nodeSelector });

    const tolerating = await podReaches(namespace, "tolerating", (p) => p.status?.phase === "Running");
    expect(tolerating.spec?.nodeName).toBe(cluster.taintedNode);
    const intolerant = await podReaches(namespace, "intolerant", (p) =>
      Boolean(p.status?.conditions?.some((c) => c.type === "PodScheduled" && c.reason === "Unschedulable")),
    );
    expect(intolerant.status?.phase).toBe("Pending");
    expect(intolerant.spec?.nodeName).toBeUndefined();
    expect(intolerant.status?.conditions?.find((c) => c.type === "PodScheduled")?.message).toContain("untolerated taint");
  });
});

describe("jobs", () => {
  test("a Job whose pod succeeds is Complete", async () => {
    const namespace = await cluster.freshNamespace("job-ok");
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("ok") });
    expect(await jobEnds(namespace, "ok")).toBe("Complete");
    const pods = await cluster.podsOfJob(namespace, "ok");
    expect(pods.map((p) => p.status?.phase)).toEqual(["Succeeded"]);
    expect(pods[0]!.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
  });

  test("a Job whose pods fail past backoffLimit is Failed, with exit code and termination message", async () => {
    const namespace = await cluster.freshNamespace("job-fail");
    const annotations = outcomeAnnotations("fail", { exitCode: 3, message: "repository unreachable" });
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("broken", { annotations, backoffLimit: 1 }) });
    expect(await jobEnds(namespace, "broken")).toBe("Failed");
    const pods = await cluster.podsOfJob(namespace, "broken");
    expect(pods).toHaveLength(2); // the first try and one retry
    for (const pod of pods) {
      expect(pod.status?.phase).toBe("Failed");
      const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
      expect(terminated).toMatchObject({ exitCode: 3, reason: "Error", message: "repository unreachable" });
    }
    const job = await cluster.batch.readNamespacedJob({ name: "broken", namespace });
    expect(job.status?.conditions?.find((c) => c.type === "Failed")?.reason).toBe("BackoffLimitExceeded");
  });

  test("a hanging pod keeps running until the test completes it", async () => {
    const namespace = await cluster.freshNamespace("job-later", { jobPods: "hang" });
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("decided-later") });
    await waitFor("the Job's pod to run", async () => (await cluster.podsOfJob(namespace, "decided-later"))[0]?.status?.phase === "Running");
    await Bun.sleep(1000);
    const [pod] = await cluster.podsOfJob(namespace, "decided-later");
    expect(pod!.status?.phase).toBe("Running");
    expect(jobCondition(await cluster.batch.readNamespacedJob({ name: "decided-later", namespace }))).toBeUndefined();

    await cluster.completePod(namespace, pod!.metadata!.name!, { exitCode: 2, message: "late failure" });
    expect(await jobEnds(namespace, "decided-later")).toBe("Failed");
    const [ended] = await cluster.podsOfJob(namespace, "decided-later");
    expect(ended!.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 2, message: "late failure" });
  });

  test("a namespace made with jobPods 'fail' fails the pods of Jobs, not other pods", async () => {
    const namespace = await cluster.freshNamespace("job-ns-fail", { jobPods: "fail" });
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("any-template") });
    await createPod(namespace, "bare");
    expect(await jobEnds(namespace, "any-template")).toBe("Failed");
    const [jobPod] = await cluster.podsOfJob(namespace, "any-template");
    expect(jobPod!.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    expect((await readPod(namespace, "bare")).status?.phase).toBe("Running");
  });

  test("a pending pod is scheduled but never starts; completePod with exit 0 makes its Job Complete", async () => {
    const namespace = await cluster.freshNamespace("job-pending");
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("stuck", { outcome: "pending" }) });
    await waitFor("the Job's pod to be scheduled", async () => Boolean((await cluster.podsOfJob(namespace, "stuck"))[0]?.spec?.nodeName));
    await Bun.sleep(1000);
    const [pod] = await cluster.podsOfJob(namespace, "stuck");
    expect(pod!.status?.phase).toBe("Pending");
    await cluster.completePod(namespace, pod!.metadata!.name!);
    expect(await jobEnds(namespace, "stuck")).toBe("Complete");
  });

  test("a pod can run for a while before it succeeds", async () => {
    const namespace = await cluster.freshNamespace("job-slow");
    const started = Date.now();
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("slow", { annotations: outcomeAnnotations("succeed", { runFor: "2s" }) }) });
    expect(await jobEnds(namespace, "slow")).toBe("Complete");
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });

  test("deleting a Job with Background propagation removes its pods", async () => {
    const namespace = await cluster.freshNamespace("job-delete");
    await cluster.batch.createNamespacedJob({ namespace, body: jobBody("doomed", { outcome: "hang" }) });
    await waitFor("the Job's pod to run", async () => (await cluster.podsOfJob(namespace, "doomed"))[0]?.status?.phase === "Running");
    await cluster.batch.deleteNamespacedJob({ name: "doomed", namespace, propagationPolicy: "Background" });
    await waitFor("the Job's pods to be gone", async () => (await cluster.podsOfJob(namespace, "doomed")).length === 0);
  });

  test("a Watch on Jobs sees the status transitions as they happen", async () => {
    const namespace = await cluster.freshNamespace("job-watch");
    const seen: string[] = [];
    let resolveComplete: () => void;
    const complete = new Promise<void>((resolve) => (resolveComplete = resolve));
    const watch = await new Watch(cluster.kc).watch(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      {},
      (type, job: V1Job) => {
        const state = `${type} active=${job.status?.active ?? 0} succeeded=${job.status?.succeeded ?? 0} ${jobCondition(job) ?? ""}`.trim();
        if (seen.at(-1) !== state) seen.push(state);
        if (jobCondition(job) === "Complete") resolveComplete();
      },
      () => {},
    );
    try {
      await cluster.batch.createNamespacedJob({ namespace, body: jobBody("watched", { annotations: outcomeAnnotations("succeed", { runFor: "1s" }) }) });
      await Promise.race([complete, Bun.sleep(30_000).then(() => Promise.reject(new Error(`no Complete event; saw ${seen.join(" | ")}`)))]);
    } finally {
      watch.abort();
    }
    expect(seen[0]).toBe("ADDED active=0 succeeded=0");
    expect(seen).toContain("MODIFIED active=1 succeeded=0");
    expect(seen.at(-1)).toBe("MODIFIED active=0 succeeded=1 Complete");
  });
});

describe("volumes", () => {
  test("a PVC binds to a node-pinned PV and a pod using it lands on that node", async () => {
    const namespace = await cluster.freshNamespace("pvc");
    const node = cluster.nodes[1]!;
    const pvc = await cluster.createBoundPvc(namespace, "data", { node, labels: { app: "demo" } });
    expect(existsSync(pvc.hostPath)).toBe(true);
    const claim = await cluster.core.readNamespacedPersistentVolumeClaim({ name: "data", namespace });
    expect(claim.spec?.volumeName).toBe(pvc.pvName);
    expect(claim.metadata?.labels).toEqual({ app: "demo" });

    await createPod(namespace, "user", { volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }] });
    const pod = await podReaches(namespace, "user", (p) => p.status?.phase === "Running");
    expect(pod.spec?.nodeName).toBe(node);
  });
});

/** Exit code from an exec status: a kubelet sends an ExitCode cause, kwok only "... exit status N". null: did not start. */
function exitCodeOf(status: V1Status): number | null {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
  if (cause !== undefined) return Number.parseInt(cause, 10);
  const match = /exit status (\d+)/.exec(status.message ?? "");
  return match ? Number.parseInt(match[1]!, 10) : null;
}

describe("exec", () => {
  let namespace: string;
  beforeAll(async () => {
    namespace = await cluster.freshNamespace("exec");
    await createPod(namespace, "shell");
    await podReaches(namespace, "shell", (p) => p.status?.phase === "Running");
  });

  test("a command's stdout, stderr and success come back", async () => {
    const result = await cluster.exec(namespace, "shell", ["sh", "-c", "echo hello; echo warning >&2"]);
    expect(result).toMatchObject({ stdout: "hello\n", stderr: "warning\n" });
    expect(result.status.status).toBe("Success");
    expect(exitCodeOf(result.status)).toBe(0);
  });

  test("a failing command is reported as a failure with its exit code", async () => {
    const result = await cluster.exec(namespace, "shell", ["sh", "-c", "echo partial; exit 3"]);
    expect(result.stdout).toBe("partial\n");
    expect(result.status.status).toBe("Failure");
    expect(exitCodeOf(result.status)).toBe(3);
  });

  test("a missing command is reported as a failure that did not start", async () => {
    const result = await cluster.exec(namespace, "shell", ["kopia-k8s-no-such-command"]);
    expect(result.status.status).toBe("Failure");
    expect(exitCodeOf(result.status)).toBeNull();
    expect(result.status.message).toContain("executable file not found");
  });

  test("one pod can get its own working folder and environment", async () => {
    await createPod(namespace, "custom");
    await podReaches(namespace, "custom", (p) => p.status?.phase === "Running");
    const workDir = await tempDir();
    await cluster.setPodExec(namespace, "custom", { workDir, env: { GREETING: "hi" } });
    const custom = await cluster.exec(namespace, "custom", ["sh", "-c", 'echo "$(pwd) $GREETING"']);
    expect(custom.stdout).toBe(`${workDir} hi\n`);
    const other = await cluster.exec(namespace, "shell", ["sh", "-c", 'echo "$(pwd) ${GREETING:-none}"']);
    expect(other.stdout).not.toStartWith(workDir);
    expect(other.stdout).toEndWith(" none\n");
  });
});
