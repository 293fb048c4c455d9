import { describe, expect, test } from "bun:test";
import { claimFromTags, claimTags, type ClaimRecord } from "../../shared/claim-tags.ts";

/** kopia lists a snapshot's tags as {"tag:<key>": "<value>"}, split at the first colon. */
const asListed = (tags: string[]) => Object.fromEntries(tags.map((tag) => [`tag:${tag.slice(0, tag.indexOf(":"))}`, tag.slice(tag.indexOf(":") + 1)]));

describe("claim tags: what a backup records to recreate its claim", () => {
  test("every field becomes one key:value tag, and comes back the same from kopia's list", () => {
    const record: ClaimRecord = { size: "10Gi", storageClass: "local-path", accessModes: ["ReadWriteOnce", "ReadOnlyMany"], volumeMode: "Filesystem", fsGroup: 1000, runAsUser: 0 };
    const tags = claimTags(record);
    expect(tags).toEqual(["k8s-size:10Gi", "k8s-storage-class:local-path", "k8s-access-modes:ReadWriteOnce,ReadOnlyMany", "k8s-volume-mode:Filesystem", "k8s-fsgroup:1000", "k8s-run-as-user:0"]);
    for (const tag of tags) expect(tag).toMatch(/^[^:\s]+:\S+$/); // kopia-backup's --tag rule
    expect(claimFromTags(asListed(tags))).toEqual(record);
  });

  test("unknown fields are left out, never written as empty tags", () => {
    expect(claimTags({ accessModes: [] })).toEqual([]);
    expect(claimFromTags(asListed([]))).toEqual({ accessModes: [] });
    expect(claimFromTags(undefined)).toEqual({ accessModes: [] });
  });

  test("a value that is not a number is no owner", () => {
    expect(claimFromTags({ "tag:k8s-fsgroup": "abc" })).toEqual({ accessModes: [] });
  });
});
