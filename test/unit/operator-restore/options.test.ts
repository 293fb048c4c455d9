import { describe, expect, test } from "bun:test";
import { resolveOperatorRestoreSettings } from "../../../shared/operator/operator-restore-options.ts";
import { isolateEnv, usageErrorOf } from "../../support/unit.ts";

isolateEnv(
  (name) => /^(KK_|KOPIA_|AWS_)/.test(name),
  () => {
    process.env.KOPIA_PASSWORD = "unit-test-password";
    process.env.KK_REPOSITORY = "filesystem:///srv/kopia";
  },
);

const one = { namespace: ["apps"], pvc: "data" };

describe("operator-restore options: what a restore of one PVC passes on", () => {
  test("in place by default; the selection and write flags handed to kopia-restore as given, never an overwrite unasked", () => {
    const settings = resolveOperatorRestoreSettings({ ...one, asOf: "2026-05-01T03:00:00Z", offset: "1" });
    expect(settings.source).toEqual({ namespace: "apps", pvc: "data" });
    expect(settings.target).toEqual({ namespace: "apps", pvc: "data" });
    expect(settings.selectionArgs).toEqual(["--as-of", "2026-05-01T03:00:00Z", "--offset", "1"]);
    expect(settings.writeArgs).toEqual([]);
    expect(settings.jobPrefix).toBe("kopia-restore");
  });

  test("--to-pvc/--to-namespace name the target; --overwrite --delete-extra --skip-owners pass on; claim flags become overrides", () => {
    const settings = resolveOperatorRestoreSettings({ ...one, toPvc: "data-copy", toNamespace: "staging", overwrite: true, deleteExtra: true, skipOwners: true, size: "5Gi", accessMode: ["ReadWriteMany"] });
    expect(settings.target).toEqual({ namespace: "staging", pvc: "data-copy" });
    expect(settings.writeArgs).toEqual(["--overwrite", "--delete-extra", "--skip-owners"]);
    expect(settings.claimOverrides).toEqual({ size: "5Gi", accessModes: ["ReadWriteMany"] });
  });

  test("--all takes --namespace as a filter and names no single target", () => {
    const settings = resolveOperatorRestoreSettings({ all: true, namespace: ["a", "b"] });
    expect(settings.source).toBeUndefined();
    expect(settings.namespaces).toEqual(["a", "b"]);
  });
});

describe("operator-restore options: bad input is one line naming the flag (exit 2)", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["no PVC", {}, "which PVC? give --namespace and --pvc, or --all"],
    ["--pvc without --namespace", { pvc: "data" }, "--namespace: give exactly one with --pvc (got none)"],
    ["two namespaces for one PVC", { pvc: "data", namespace: ["a", "b"] }, "--namespace: give exactly one with --pvc (got 2)"],
    ["a PVC name with capitals", { ...one, pvc: "Data" }, "--pvc: 'Data' is not a PVC name"],
    ["a bad target namespace", { ...one, toNamespace: "Prod_1" }, "namespace 'Prod_1' is not a namespace name"],
    ["--scale-down with --allow-running", { ...one, scaleDown: true, allowRunning: true }, "--scale-down and --allow-running contradict each other"],
    ["--delete-extra alone", { ...one, deleteExtra: true }, "--delete-extra: only with --overwrite"],
    ["--overwrite with --skip-existing", { ...one, overwrite: true, skipExisting: true }, "--overwrite and --skip-existing contradict each other"],
    ["a size that is no quantity", { ...one, size: "10 gigs" }, "--size: '10 gigs' is not a quantity, e.g. 10Gi"],
    ["an access mode kubectl abbreviates", { ...one, accessMode: ["RWO"] }, "--access-mode: 'RWO' must be ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod"],
    ["--as-of without a zone", { ...one, asOf: "2026-05-01T03:00:00" }, "--as-of"],
    ["--snapshot with --offset", { ...one, snapshot: "abc123", offset: "1" }, "--snapshot names one snapshot"],
    ["--all with --pvc", { all: true, pvc: "data" }, "--all: restores every PVC to its own name; drop --pvc"],
    ["--all with --to-namespace", { all: true, toNamespace: "x" }, "drop --to-namespace"],
    ["--repository-node with an object store", { ...one, repository: "s3://backups?endpoint=minio:9000", repositoryNode: "node-1" }, "--repository-node: only for a filesystem: repository"],
    ["--repository-node that is no node name", { ...one, repositoryNode: "Node 1" }, "--repository-node: 'Node 1' is not a node name"],
    ["--subpath leaving the snapshot", { ...one, subpath: "a/../../etc" }, "--subpath: 'a/../../etc' must be a path inside the snapshot"],
  ];
  for (const [name, flags, fragment] of cases) {
    test(name, () => {
      const error = usageErrorOf(() => resolveOperatorRestoreSettings(flags));
      expect(error.message).toContain(fragment);
      expect(error.message).not.toContain("\n");
    });
  }
});
