import { describe, expect, test } from "bun:test";
import { backupJobName, dnsLabelPart, isDnsLabel, newRunId, shortHash } from "../../../shared/operator/names.ts";

/** A small seeded PRNG (mulberry32): the "random" names are the same on every run. */
function prng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";

function randomName(random: () => number, maxLength: number): string {
  const length = 1 + Math.floor(random() * maxLength);
  let text = "";
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return text;
}

describe("isDnsLabel", () => {
  test.each(["a", "a1", "kopia-backup", "0abc", "a-b-c", "x".repeat(63)])("%p is a DNS label", (text) => {
    expect(isDnsLabel(text)).toBe(true);
  });

  test.each(["", "-a", "a-", "A", "a_b", "a.b", "a b", "x".repeat(64), "ä"])("%p is not a DNS label", (text) => {
    expect(isDnsLabel(text)).toBe(false);
  });
});

describe("dnsLabelPart", () => {
  test.each([
    ["Data_Volume.1", "data-volume-1"],
    ["--a--b--", "a-b"],
    ["a...__..b", "a-b"],
    ["UPPER", "upper"],
    ["___", ""],
    ["plain-name", "plain-name"],
    ["ä-ö", ""],
  ])("%p becomes %p", (text, expected) => {
    expect(dnsLabelPart(text)).toBe(expected);
  });
});

describe("shortHash", () => {
  test("is the first hex characters of sha256", () => {
    // sha256("abc") = ba7816bf8f01cfea...
    expect(shortHash("abc")).toBe("ba7816bf");
    expect(shortHash("abc", 16)).toBe("ba7816bf8f01cfea");
  });
});

describe("newRunId", () => {
  test("is 8 lower-case hex characters and differs between calls", () => {
    const a = newRunId();
    const b = newRunId();
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(b).toMatch(/^[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });
});

describe("backupJobName", () => {
  test("short names are readable: prefix, run id, PVC, hash", () => {
    const name = backupJobName("kopia-backup", "abcd1234", "apps", "data");
    expect(name).toBe(`kopia-backup-abcd1234-data-${shortHash("apps/data")}`);
  });

  test("is deterministic for the same input", () => {
    const a = backupJobName("kopia-backup", "run1", "ns", "Some_PVC.name");
    const b = backupJobName("kopia-backup", "run1", "ns", "Some_PVC.name");
    expect(a).toBe(b);
    expect(a).toBe(`kopia-backup-run1-some-pvc-name-${shortHash("ns/Some_PVC.name")}`);
  });

  test("is always a valid DNS label of at most 63 characters (many random names)", () => {
    const random = prng(42);
    const prefixes = ["kopia-backup", "k", "x".repeat(16), "a-b-c-d-e-f-g-h1"];
    const runIds = ["abcd1234", "0", "r".repeat(36), "0123abcd-0123-abcd-0123-0123456789ab"];
    let checked = 0;
    for (let i = 0; i < 2000; i++) {
      const prefix = prefixes[i % prefixes.length]!;
      const runId = runIds[Math.floor(i / prefixes.length) % runIds.length]!;
      const namespace = randomName(random, 63);
      const pvc = randomName(random, 253);
      const name = backupJobName(prefix, runId, namespace, pvc);
      if (!isDnsLabel(name) || name.length > 63) throw new Error(`not a DNS label: '${name}' from ${prefix}/${runId}/${namespace}/${pvc}`);
      expect(name.startsWith(`${prefix}-${runId}-`)).toBe(true);
      expect(name.endsWith(shortHash(`${namespace}/${pvc}`))).toBe(true);
      checked++;
    }
    expect(checked).toBe(2000);
  });

  test.each([
    ["253 characters", "a".repeat(253)],
    ["253 characters with dots", "a.b".repeat(84) + "a"],
    ["upper case and underscores", "My_Big_Volume_".repeat(18)],
    ["cut right before a '-'", "a".repeat(32) + "-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"],
    ["nothing readable", "___...___"],
  ])("a PVC name of %s still gives a valid label", (_label, pvc) => {
    for (const [prefix, runId] of [["kopia-backup", "abcd1234"], ["x".repeat(16), "r".repeat(36)]] as const) {
      const name = backupJobName(prefix, runId, "ns", pvc);
      expect(isDnsLabel(name)).toBe(true);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).not.toContain("--");
    }
  });

  test("the longest prefix and run id leave only the hash", () => {
    const name = backupJobName("x".repeat(16), "r".repeat(36), "ns", "data");
    expect(name).toBe(`${"x".repeat(16)}-${"r".repeat(36)}-${shortHash("ns/data")}`);
    expect(name.length).toBe(62);
  });

  test("the readable part is cut to fill exactly 63 characters", () => {
    const name = backupJobName("kopia-backup", "abcd1234", "ns", "v".repeat(200));
    expect(name).toBe(`kopia-backup-abcd1234-${"v".repeat(32)}-${shortHash(`ns/${"v".repeat(200)}`)}`);
    expect(name.length).toBe(63);
  });

  test("long PVC names sharing a 50-character prefix in one namespace get distinct names", () => {
    const common = "postgres-data-cluster-primary-instance-volume-0001"; // 50 characters
    expect(common.length).toBe(50);
    const a = backupJobName("kopia-backup", "abcd1234", "db", `${common}-alpha`);
    const b = backupJobName("kopia-backup", "abcd1234", "db", `${common}-beta`);
    expect(a).not.toBe(b);
    expect(isDnsLabel(a)).toBe(true);
    expect(isDnsLabel(b)).toBe(true);
    // The readable parts are equal (cut); only the hash tells them apart.
    expect(a.slice(0, -9)).toBe(b.slice(0, -9));
  });

  test("many long PVC names with a shared prefix never collide", () => {
    const common = "p".repeat(50);
    const names = new Set<string>();
    for (let i = 0; i < 500; i++) names.add(backupJobName("kopia-backup", "abcd1234", "ns", `${common}-${i}`));
    expect(names.size).toBe(500);
  });

  test("the same PVC in two namespaces gets distinct names", () => {
    const a = backupJobName("kopia-backup", "abcd1234", "team-a", "data");
    const b = backupJobName("kopia-backup", "abcd1234", "team-b", "data");
    expect(a).not.toBe(b);
    expect(a).toBe(`kopia-backup-abcd1234-data-${shortHash("team-a/data")}`);
    expect(b).toBe(`kopia-backup-abcd1234-data-${shortHash("team-b/data")}`);
  });

  test("different run ids give different names", () => {
    expect(backupJobName("kopia-backup", "run-a", "ns", "data")).not.toBe(backupJobName("kopia-backup", "run-b", "ns", "data"));
  });
});
