/**
 * What the end-to-end tests on the real node share (test/e2e): the node running the project image
 * built from the current source, an app Deployment on it, and the pods of kopia-k8s Jobs as they went.
 */
import { AppsV1Api, type V1Pod, Watch } from "@kubernetes/client-node";
import { join } from "node:path";
import { sharedCluster, type BoundPvc, type TestCluster } from "./cluster.ts";
import { kubectl } from "./kubectl.ts";
import { repoRoot, waitFor } from "./processes.ts";
import { type RealNode, startRealNode } from "./real-node.ts";

/** The Debian stand-in test/tools/image.sh puts in podman's storage: an app image with a shell. */
export const APP_IMAGE = "docker.io/library/debian:bookworm-slim";
const CONTAINERS_CONF = join(repoRoot, "test", "tools", "podman", "containers.conf");

function podmanHas(image: string): boolean {
  return Bun.spawnSync(["podman", "image", "exists", image], { env: { ...process.env, CONTAINERS_CONF } }).exitCode === 0;
}

/**
 * Builds `kopiaImage` from the current source (an image left by an earlier build would test old
 * binaries; unchanged layers come from podman's cache) and starts the real node with it and the app
 * image. Provisions the node's tools if the preload's folder lacks them.
 */
export async function realNodeWithImages(kopiaImage: string): Promise<{ cluster: TestCluster; node: RealNode }> {
  if (!Bun.which("containerd", { PATH: process.env.PATH ?? "" })) {
    const provision = Bun.spawnSync(["bash", join(repoRoot, "test", "tools", "provision.sh"), "node"], { stdout: "pipe", stderr: "inherit" });
    if (provision.exitCode !== 0) throw new Error(`test/tools/provision.sh node failed (exit ${provision.exitCode})`);
    process.env.PATH = `${provision.stdout.toString().trim().split("\n").at(-1)}:${process.env.PATH}`;
  }
  // The real node is this machine: its platform's image is enough (test/image builds and checks arm64).
  const build = Bun.spawnSync(["bash", join(repoRoot, "test", "tools", "image.sh")], { stdout: "pipe", stderr: "pipe", env: { ...process.env, KK_IMAGE: kopiaImage, KK_IMAGE_PLATFORMS: `linux/${process.arch === "arm64" ? "arm64" : "amd64"}` } });
  if (build.exitCode !== 0) throw new Error(`test/tools/image.sh failed (exit ${build.exitCode}): ${build.stderr.toString().slice(-3000)}`);
  if (!podmanHas(APP_IMAGE)) throw new Error(`${APP_IMAGE} (the stand-in test/tools/image.sh makes) is missing`);
  const cluster = await sharedCluster();
  const node = await startRealNode(cluster, { images: [kopiaImage, APP_IMAGE] });
  return { cluster, node };
}

const appNamespaces: string[] = [];

/** A namespace with a PVC whose PV lives on the real node (a folder of this host). */
export async function namespaceWithVolume(cluster: TestCluster, node: RealNode, prefix: string): Promise<{ namespace: string; pvc: BoundPvc }> {
  const namespace = await cluster.freshNamespace(prefix);
  appNamespaces.push(namespace);
  const pvc = await cluster.createBoundPvc(namespace, "data", { node: node.name });
  return { namespace, pvc };
}

/**
 * Deletes the namespaces namespaceWithVolume made, without waiting: a terminating namespace takes no
 * new pods, so their Deployments cannot start them again on the next real node (another file's).
 */
export function deleteAppNamespaces(cluster: TestCluster): void {
  if (!appNamespaces.length) return;
  kubectl(cluster.kubeconfigPath, "delete", "namespace", ...appNamespaces.splice(0), "--ignore-not-found", "--wait=false");
}

/** A Deployment of the app image on the real node mounting the PVC; resolves with its Running pod. */
export async function deployApp(cluster: TestCluster, node: RealNode, namespace: string, annotations: Record<string, string>): Promise<V1Pod> {
  await cluster.kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: "app", namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "app" } },
        template: {
          metadata: { labels: { app: "app" }, annotations },
          spec: {
            nodeSelector: { "kubernetes.io/hostname": node.name },
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "app",
                image: APP_IMAGE,
                imagePullPolicy: "Never",
                command: ["sleep", "infinity"],
                env: [{ name: "APP_MARKER", value: `inside-${namespace}` }],
                volumeMounts: [{ name: "data", mountPath: "/data" }],
              },
            ],
            volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
          },
        },
      },
    },
  });
  let running: V1Pod | undefined;
  await waitFor(
    `the app pod in ${namespace} to run on ${node.name}`,
    async () => {
      const pods = (await cluster.core.listNamespacedPod({ namespace, labelSelector: "app=app" })).items;
      running = pods.find((pod) => pod.status?.phase === "Running" && pod.status.containerStatuses?.[0]?.ready);
      return Boolean(running);
    },
    120_000,
  ).catch((error) => {
    throw new Error(`${(error as Error).message}\n${node.logs(40)}`);
  });
  return running!;
}

/**
 * The last version seen of every pod matching `labelSelector` in a namespace, kept after the pod is
 * gone (the Jobs of a successful run are deleted, and their pods with them).
 */
export async function watchPods(cluster: TestCluster, namespace: string, labelSelector = "app.kubernetes.io/managed-by=kopia-k8s") {
  const seen = new Map<string, V1Pod>();
  const request = await new Watch(cluster.kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector },
    (_phase, pod: V1Pod) => void seen.set(pod.metadata!.name!, pod),
    () => {},
  );
  return { pods: () => [...seen.values()], stop: () => request.abort() };
}
