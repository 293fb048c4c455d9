import { describe, expect, test } from "bun:test";
import type { V1ContainerStateWaiting, V1Pod } from "@kubernetes/client-node";
import { stuckCheckDelayMs, stuckReason } from "../../../shared/operator/stuck-pod.ts";

const podWaiting = (...waiting: (V1ContainerStateWaiting | undefined)[]): V1Pod => ({
  status: { phase: "Pending", containerStatuses: waiting.map((state, index) => ({ name: `c${index}`, image: "x", imageID: "", ready: false, restartCount: 0, state: state ? { waiting: state } : { running: {} } })) },
});

const unschedulable = (pinned: boolean): V1Pod => ({
  spec: {
    containers: [{ name: "c" }],
    ...(pinned ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] }] } } } } : {}),
  },
  status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/4 nodes are available: 1 node(s) had untolerated taint {maintenance: now}." }] },
});

describe("stuckReason", () => {
  test("a pod pinned to one node that the scheduler cannot place is stuck, with the scheduler's message", () => {
    expect(stuckReason(unschedulable(true))).toBe("Unschedulable on its pinned node: 0/4 nodes are available: 1 node(s) had untolerated taint {maintenance: now}.");
  });

  test("an unpinned unschedulable pod may still be placed elsewhere: not stuck", () => {
    expect(stuckReason(unschedulable(false))).toBeUndefined();
  });

  test.each(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"])("%p is stuck, with the kubelet's message", (reason) => {
    expect(stuckReason(podWaiting({ reason, message: "why exactly" }))).toBe(`${reason}: why exactly`);
  });

  test("a reason without a message is given alone", () => {
    expect(stuckReason(podWaiting({ reason: "ImagePullBackOff" }))).toBe("ImagePullBackOff");
  });

  test.each(["ContainerCreating", "PodInitializing", undefined])("waiting for %p may still end: not stuck", (reason) => {
    expect(stuckReason(podWaiting(reason ? { reason } : {}))).toBeUndefined();
  });

  test("any stuck container makes the pod stuck", () => {
    expect(stuckReason(podWaiting(undefined, { reason: "ErrImagePull", message: "no such image" }))).toBe("ErrImagePull: no such image");
  });

  test("no pod, or no container status yet: not stuck", () => {
    expect(stuckReason(undefined)).toBeUndefined();
    expect(stuckReason({ status: { phase: "Pending" } })).toBeUndefined();
  });
});

describe("stuckCheckDelayMs", () => {
  test("a minute, or half the pending timeout when that is shorter", () => {
    expect(stuckCheckDelayMs(15 * 60_000)).toBe(60_000);
    expect(stuckCheckDelayMs(60_000)).toBe(30_000);
    expect(stuckCheckDelayMs(4_000)).toBe(2_000);
  });
});
