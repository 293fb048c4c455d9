/**
 * A network namespace of the test's own, plugged into a real node's pod bridge like one more pod:
 * a veth pair, one end a port of the bridge, the other end in the namespace with an address of the
 * pod subnet that host-local will never hand out. A server started in it (test/support/sshd.ts,
 * `netns`) is reachable from the node's pods, and from this host through the bridge's gateway
 * address; the namespace has no route beyond the pod subnet.
 *
 *   const place = await podNetworkNamespace(node);   // after a first pod made the bridge
 *   const sshd = await startSshd({ netns: place.path, address: place.address });
 *
 * The namespace is kept by a bind mount on a file in the node's folder, not in /run/netns: `ip netns
 * add` would turn /run/netns into a mount of its own, over the pod namespaces containerd mounted
 * there, which the node's teardown then could no longer unmount (their veths stayed behind). A
 * node teardown after a killed test process unmounts it with everything else in the folder.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { onCleanup, waitFor } from "./processes.ts";
import type { RealNode } from "./real-node.ts";

function run(cmd: string[], allowFail = false): void {
  const result = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0 && !allowFail) throw new Error(`${cmd.join(" ")} failed (exit ${result.exitCode}): ${result.stderr}`);
}

const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

export interface PodNetworkNamespace {
  /** The file that holds it (for nsenter --net=). */
  path: string;
  /** Its address on the pod subnet. */
  address: string;
  /** Removes the namespace, its veth pair and the address's reservation; safe to call twice. */
  remove(): void;
}

export async function podNetworkNamespace(node: RealNode): Promise<PodNetworkNamespace> {
  const { bridge, subnet, ipamStore } = node.podNetwork;
  // The bridge plugin makes the bridge with the first pod's sandbox.
  await waitFor(`the pod bridge ${bridge}`, async () => linkExists(bridge), 30_000);
  const id = Math.random().toString(36).slice(2, 8);
  const path = join(node.dir, "test-netns", id);
  const hostEnd = `kkv-${id}`;
  const address = subnet.replace(/\.0\/24$/, ".250");
  if (address === subnet) throw new Error(`pod subnet ${subnet} is not a /24 ending in .0`);
  // host-local keeps one file per allocated address: this one makes it skip ours.
  const reservation = join(ipamStore, address);
  const inside = (cmd: string[]) => run(["nsenter", `--net=${path}`, ...cmd]);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    // The namespace ends with its last mount and process (a server in it is stopped first); its veth end, and so the pair, with it.
    run(["umount", path], true);
    rmSync(path, { force: true });
    if (linkExists(hostEnd)) run(["ip", "link", "delete", hostEnd], true);
    rmSync(reservation, { force: true });
  };
  onCleanup(remove);
  try {
    mkdirSync(ipamStore, { recursive: true });
    writeFileSync(reservation, `${path}\n`, { flag: "wx" });
    mkdirSync(join(node.dir, "test-netns"), { recursive: true });
    writeFileSync(path, "");
    run(["unshare", `--net=${path}`, "true"]);
    run(["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", path]);
    run(["ip", "link", "set", hostEnd, "master", bridge]);
    run(["ip", "link", "set", hostEnd, "up"]);
    inside(["ip", "addr", "add", `${address}/24`, "dev", "eth0"]);
    inside(["ip", "link", "set", "eth0", "up"]);
    inside(["ip", "link", "set", "lo", "up"]);
  } catch (error) {
    remove();
    throw error;
  }
  return { path, address, remove };
}
