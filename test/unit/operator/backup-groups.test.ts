import { describe, expect, test } from "bun:test";
import { groupTargets } from "../../../shared/operator/backup-groups.ts";
import type { BackupTarget } from "../../../shared/operator/plan.ts";

const target = (namespace: string, pvc: string, node?: string): BackupTarget => ({ namespace, pvc, ...(node ? { node } : {}), tolerations: [], mountedBy: [], claim: { accessModes: [] } });
const names = (groups: ReturnType<typeof groupTargets>) => groups.map((group) => group.targets.map((entry) => `${entry.namespace}/${entry.pvc}`).join(" "));

describe("groupTargets: which PVCs share a backup Job", () => {
  test("one namespace's PVCs on one node share a Job; other nodes and namespaces get their own", () => {
    const groups = groupTargets([target("a", "p1", "n1"), target("a", "p2", "n2"), target("a", "p3", "n1"), target("b", "p4", "n1")], 10);
    expect(names(groups)).toEqual(["a/p1 a/p3", "a/p2", "b/p4"]);
    expect(groups.map((group) => [group.namespace, group.node])).toEqual([["a", "n1"], ["a", "n2"], ["b", "n1"]]);
  });

  test("at most volumesPerJob PVCs a Job, in plan order", () => {
    const targets = ["p1", "p2", "p3", "p4", "p5"].map((pvc) => target("a", pvc, "n1"));
    expect(names(groupTargets(targets, 2))).toEqual(["a/p1 a/p2", "a/p3 a/p4", "a/p5"]);
  });

  test("a PVC on no node has a Job of its own", () => {
    const groups = groupTargets([target("a", "p1"), target("a", "p2"), target("a", "p3", "n1")], 10);
    expect(names(groups)).toEqual(["a/p1", "a/p2", "a/p3"]);
    expect(groups[0]!.node).toBeUndefined();
  });

  test("volumesPerJob 1: one Job per PVC, as before grouping", () => {
    const targets = [target("a", "p1", "n1"), target("a", "p2", "n1"), target("a", "p3")];
    expect(names(groupTargets(targets, 1))).toEqual(["a/p1", "a/p2", "a/p3"]);
  });

  test("no PVCs, no Jobs", () => {
    expect(groupTargets([], 5)).toEqual([]);
  });
});
