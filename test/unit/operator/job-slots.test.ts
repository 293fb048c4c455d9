import { describe, expect, test } from "bun:test";
import { defaultConcurrency, nextStartable } from "../../../shared/operator/job-slots.ts";

const queued = (...nodes: (string | undefined)[]) => nodes.map((node) => (node === undefined ? {} : { node }));

describe("nextStartable: which queued Job starts next", () => {
  test("the first in queue order while the run and its node have room", () => {
    expect(nextStartable(queued("a", "b"), [], { total: 3, perNode: 1 })).toBe(0);
    expect(nextStartable(queued("a", "b"), ["b"], { total: 3, perNode: 1 })).toBe(0);
  });

  test("a Job whose node is full waits; the next Job for another node starts instead", () => {
    expect(nextStartable(queued("a", "a", "b"), ["a"], { total: 3, perNode: 1 })).toBe(2);
    expect(nextStartable(queued("a", "a", "b"), ["a", "a"], { total: 5, perNode: 2 })).toBe(2);
    expect(nextStartable(queued("a", "a", "b"), ["a"], { total: 5, perNode: 2 })).toBe(0);
  });

  test("nothing starts when every queued Job's node is full", () => {
    expect(nextStartable(queued("a", "a"), ["a", "b"], { total: 10, perNode: 1 })).toBe(-1);
  });

  test("nothing starts when the run is full, whatever the nodes", () => {
    expect(nextStartable(queued("c"), ["a", "b", undefined], { total: 3, perNode: 1 })).toBe(-1);
  });

  test("a Job with no node counts against the total only", () => {
    expect(nextStartable(queued(undefined), [undefined, undefined], { total: 3, perNode: 1 })).toBe(0);
    expect(nextStartable(queued("a", undefined), ["a"], { total: 3, perNode: 1 })).toBe(1);
    expect(nextStartable(queued("a"), [undefined, undefined], { total: 3, perNode: 1 })).toBe(0);
  });

  test("without a bound per node, the queue's head; an empty queue gives nothing", () => {
    expect(nextStartable(queued("a", "b"), ["a", "a", "a"], { total: 4 })).toBe(0);
    expect(nextStartable([], [], { total: 4, perNode: 1 })).toBe(-1);
    expect(nextStartable([], [], { total: 4 })).toBe(-1);
  });
});

describe("defaultConcurrency: --concurrency when it is not given", () => {
  test("one per node with volumes to back up, at least 3; volumes on no node add nothing", () => {
    expect(defaultConcurrency([])).toBe(3);
    expect(defaultConcurrency(["a", "a", "b", undefined, undefined, undefined, undefined])).toBe(3);
    expect(defaultConcurrency(["a", "b", "c", "d"])).toBe(4);
    expect(defaultConcurrency(Array.from({ length: 30 }, (_, index) => `node-${index % 10}`))).toBe(10);
  });
});
