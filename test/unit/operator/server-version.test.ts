import { describe, expect, test } from "bun:test";
import { tooOld } from "../../../shared/operator/server-version.ts";

describe("tooOld: the minimum Kubernetes version (1.27)", () => {
  test("1.27 and newer pass, whatever suffix the distribution adds", () => {
    for (const gitVersion of ["v1.27.0", "v1.36.1", "v1.29.4-gke.1043002", "v1.30.2-eks-1552ad0", "v2.0.0"]) expect(tooOld({ major: "", minor: "", gitVersion }), gitVersion).toBeUndefined();
  });

  test("1.26 is refused with the reason and the fix", () => {
    expect(tooOld({ major: "1", minor: "26+", gitVersion: "v1.26.15-eks-1234" })).toBe(
      "Kubernetes v1.26.15-eks-1234 is too old: operator-backup needs 1.27 or newer (it finds each Job's pod by the batch.kubernetes.io/job-name label, which older clusters do not set); upgrade the cluster",
    );
  });

  test("without a readable gitVersion, major and minor decide; an unreadable version is not refused", () => {
    expect(tooOld({ major: "1", minor: "26+", gitVersion: "" })).toContain("Kubernetes 1.26+ is too old");
    expect(tooOld({ major: "1", minor: "28+", gitVersion: "" })).toBeUndefined();
    expect(tooOld({ major: "", minor: "", gitVersion: "unknown" })).toBeUndefined();
  });
});
