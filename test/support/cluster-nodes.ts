/** The nodes and the storage class of the test cluster; kwok makes the nodes Ready and runs their pods. */
import { ApiException, CoreV1Api, type KubeConfig, StorageV1Api, type V1Node, type V1Taint } from "@kubernetes/client-node";
import { waitFor } from "./processes.ts";

export const NODE_NAMES = ["kk-node-0", "kk-node-1", "kk-node-2"];
export const TAINTED_NODE = "kk-tainted";
/** Not its name, as with a kubelet run with --hostname-override: placement must go by node name. */
export const TAINTED_NODE_HOSTNAME = "kk-tainted-host";
export const TAINT: V1Taint = { key: "kopia-k8s.test/dedicated", value: "backup", effect: "NoSchedule" };
export const STORAGE_CLASS = "kk-local";

/** The kubernetes.io/hostname label of a test node. */
export const hostnameOf = (node: string) => (node === TAINTED_NODE ? TAINTED_NODE_HOSTNAME : node);

function nodeBody(name: string, taints: V1Taint[] = []): V1Node {
  // No status.addresses: kwok fills them in so that pods/exec reaches the kwok controller.
  return {
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": hostnameOf(name), "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
    },
    spec: { taints },
  };
}

async function createIfMissing(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
  }
}

function isReady(node: V1Node): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  return ready && !node.spec?.taints?.some((taint) => taint.key.startsWith("node.kubernetes.io/"));
}

/**
 * Creates the nodes and the default storage class (idempotent) and waits until every node is Ready.
 * `stopped` names a control-plane component that is no longer running, if any: then it fails at once.
 */
export async function populateCluster(kc: KubeConfig, stopped: () => string | undefined = () => undefined): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const storage = kc.makeApiClient(StorageV1Api);
  await waitFor("the API server", async () => Boolean(await core.listNode()), 60_000);
  const bodies = [...NODE_NAMES.map((name) => nodeBody(name)), nodeBody(TAINTED_NODE, [TAINT])];
  await Promise.all(bodies.map((body) => createIfMissing(() => core.createNode({ body }))));
  await createIfMissing(() =>
    storage.createStorageClass({
      body: {
        metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
        provisioner: "kubernetes.io/no-provisioner",
        reclaimPolicy: "Retain",
        volumeBindingMode: "Immediate",
      },
    }),
  );
  const names = bodies.map((body) => body.metadata!.name!);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const nodes = (await core.listNode()).items;
    const ready = nodes.filter(isReady).map((node) => node.metadata!.name!);
    if (names.every((name) => ready.includes(name))) return;
    const gone = stopped();
    if (gone || Date.now() > deadline) {
      const states = nodes.map((node) => `${node.metadata?.name}: ${JSON.stringify({ conditions: node.status?.conditions, taints: node.spec?.taints })}`);
      throw new Error(`${gone ? `${gone} stopped` : "timed out after 60 s"} before the nodes were Ready and schedulable:\n${states.join("\n")}`);
    }
    await Bun.sleep(100);
  }
}
