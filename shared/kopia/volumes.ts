import { stat } from "node:fs/promises";
import { usageError } from "../exit-codes.ts";
import { isAbsolutePath } from "../options.ts";
import { isTag } from "../retention.ts";
import { MAX_VOLUMES } from "../volumes-summary.ts";
import { isIdentityPart } from "./context.ts";

/** One folder of a --volumes run, snapshotted as `username@<--hostname>:<--source-path>`. */
export interface Volume {
  path: string;
  username: string;
  /** Added to the common --tag ones. */
  tags: string[];
}

const EXAMPLE = `[{"path":"/volumes/0","username":"data","tags":["k8s-size:1Gi"]}]`;
const FIELDS = ["path", "username", "tags"];

/** The JSON of --volumes (KK_VOLUMES), every volume checked; each problem is one usage error naming the volume and the fix. */
export function parseVolumes(text: string, field = "--volumes"): Volume[] {
  const fail = (problem: string) => usageError(`${field}: ${problem}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${(error as Error).message}); give an array such as ${EXAMPLE}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw fail(`give a non-empty JSON array of volumes, e.g. ${EXAMPLE}`);
  if (parsed.length > MAX_VOLUMES) throw fail(`${parsed.length} volumes; at most ${MAX_VOLUMES} per run (the summary must fit a 4 KiB termination message): split them over several runs`);

  const volumes = parsed.map((entry: unknown, index): Volume => {
    const which = `volume ${index + 1}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw fail(`${which} is not an object; give {"path":…,"username":…}, e.g. ${EXAMPLE}`);
    const { path, username, tags = [] } = entry as Record<string, unknown>;
    const unknown = Object.keys(entry).find((key) => !FIELDS.includes(key));
    if (unknown) throw fail(`${which}: unknown field '${unknown}'; a volume has only "path", "username" and "tags"`);
    if (typeof path !== "string" || path === "") throw fail(`${which} has no "path"; give the folder to back up, e.g. ${EXAMPLE}`);
    if (!isAbsolutePath(path)) throw fail(`${which}: path '${path}' must be an absolute path, e.g. /volumes/0`);
    if (typeof username !== "string" || username === "") throw fail(`${which} has no "username"; give its Kopia identity user (the PVC's name), e.g. ${EXAMPLE}`);
    if (!isIdentityPart(username)) throw fail(`${which}: username '${username}' may hold only letters, digits, '.', '_' and '-'`);
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string")) throw fail(`${which} (${username}): "tags" must be an array of "key:value" strings, e.g. ["k8s-size:1Gi"]`);
    const badTag = tags.find((tag: string) => !isTag(tag));
    if (badTag !== undefined) throw fail(`${which} (${username}): tag '${badTag}' must be key:value, e.g. app:nextcloud`);
    return { path, username, tags };
  });

  for (const [index, volume] of volumes.entries()) {
    const first = volumes.findIndex((other) => other.username === volume.username);
    if (first !== index) throw fail(`username '${volume.username}' is given to volumes ${first + 1} and ${index + 1}; give each volume its own, or their snapshots would mix in one Kopia source`);
  }
  return volumes;
}

/** Why `path` cannot be backed up (it does not exist, or is not a folder); undefined when it can. */
export async function folderProblem(path: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return "does not exist; mount or create it, or fix the path";
  if (!info.isDirectory()) return "is not a folder; give the folder that holds the data";
  return undefined;
}

/** The volumes, once every folder is known to exist. */
export async function volumeFolders(volumes: Volume[], field = "--volumes"): Promise<Volume[]> {
  for (const [index, volume] of volumes.entries()) {
    const problem = await folderProblem(volume.path);
    if (problem) throw usageError(`${field}: volume ${index + 1} (${volume.username}): '${volume.path}' ${problem}`);
  }
  return volumes;
}
