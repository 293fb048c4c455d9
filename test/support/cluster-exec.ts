/** pods/exec from tests: on the kwok test cluster the command runs on this host. */
import { CustomObjectsApi, Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";
import { Writable } from "node:stream";
import { waitFor } from "./processes.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** As sent by the API server; kwok and a kubelet differ for failures, see test/tools/kwok/exec.yaml. */
  status: V1Status;
}

function collector() {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

export async function execInPod(kc: KubeConfig, namespace: string, pod: string, container: string, command: string[]): Promise<ExecResult> {
  const stdout = collector();
  const stderr = collector();
  const status = await new Promise<V1Status>((resolve, reject) => {
    // The status callback can be skipped when the connection drops (kubernetes-client/javascript#714).
    const timer = setTimeout(() => reject(new Error(`exec ${command.join(" ")} in ${namespace}/${pod}: no status within 30 s`)), 30_000);
    new Exec(kc)
      .exec(namespace, pod, container, command, stdout.stream, stderr.stream, null, false, (s) => {
        clearTimeout(timer);
        resolve(s);
      })
      .catch((error) => {
        clearTimeout(timer);
        reject(error);
      });
  });
  return { stdout: stdout.text(), stderr: stderr.text(), status };
}

export interface PodExecRule {
  /** Folder the commands run in (default: the kwok controller's). */
  workDir?: string;
  /** Added to the kwok controller's environment. PATH here is seen by the command's children only:
   * kwok looks the command itself up in its own PATH. */
  env?: Record<string, string>;
}

/**
 * Gives one pod its own exec rule (a namespaced kwok Exec object, which wins over the cluster-wide
 * rule) and waits until kwok applies it.
 */
export async function setPodExec(kc: KubeConfig, namespace: string, pod: string, container: string, rule: PodExecRule): Promise<void> {
  const marker = `KOPIA_K8S_TEST_EXEC_RULE=${crypto.randomUUID()}`;
  const [markerName, markerValue] = marker.split("=") as [string, string];
  const envs = [...Object.entries(rule.env ?? {}).map(([name, value]) => ({ name, value })), { name: markerName, value: markerValue }];
  const objects = kc.makeApiClient(CustomObjectsApi);
  const target = { group: "kwok.x-k8s.io", version: "v1alpha1", namespace, plural: "execs" };
  await objects.deleteNamespacedCustomObject({ ...target, name: pod }).catch(() => {});
  await objects.createNamespacedCustomObject({
    ...target,
    body: {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "Exec",
      metadata: { name: pod, namespace },
      spec: { execs: [{ local: { ...(rule.workDir && { workDir: rule.workDir }), envs } }] },
    },
  });
  // An absolute path, so that the check works whatever PATH the rule sets.
  await waitFor(`kwok to apply the exec rule of ${namespace}/${pod}`, async () =>
    (await execInPod(kc, namespace, pod, container, ["/usr/bin/env"])).stdout.includes(marker),
  );
}
