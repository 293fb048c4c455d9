import { VersionApi, type VersionInfo } from "@kubernetes/client-node";
import { ExitCode, KkError } from "../exit-codes.ts";
import type { Kube } from "./client.ts";

/** 1.27 is the first release whose Job controller labels a Job's pods `batch.kubernetes.io/job-name`. */
const MINIMUM_KUBERNETES = { major: 1, minor: 27 };

/** Why this server is too old, or undefined when it is recent enough (or its version cannot be read). */
export function tooOld(info: Pick<VersionInfo, "major" | "minor" | "gitVersion">): string | undefined {
  // gitVersion is the reliable part; major/minor may carry a "+" (e.g. "27+") or be empty.
  const [, major, minor] = /^v?(\d+)\.(\d+)/.exec(info.gitVersion) ?? [undefined, info.major, info.minor];
  const [majorNumber, minorNumber] = [Number.parseInt(major ?? "", 10), Number.parseInt(minor ?? "", 10)];
  if (Number.isNaN(majorNumber) || Number.isNaN(minorNumber)) return undefined;
  const { major: needMajor, minor: needMinor } = MINIMUM_KUBERNETES;
  if (majorNumber > needMajor || (majorNumber === needMajor && minorNumber >= needMinor)) return undefined;
  return `Kubernetes ${info.gitVersion || `${major}.${minor}`} is too old: operator-backup needs ${needMajor}.${needMinor} or newer (it finds each Job's pod by the batch.kubernetes.io/job-name label, which older clusters do not set); upgrade the cluster`;
}

/** One /version call; refuses a server older than MINIMUM_KUBERNETES. Returns its gitVersion. */
export async function checkServerVersion(kube: Kube): Promise<string> {
  const info = await kube.config.makeApiClient(VersionApi).getCode();
  const problem = tooOld(info);
  if (problem) throw new KkError(problem, ExitCode.failed);
  return info.gitVersion;
}
