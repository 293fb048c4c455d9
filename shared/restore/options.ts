import { resolve } from "node:path";
import { usageError } from "../exit-codes.ts";
import { kopiaOptions } from "../kopia/options.ts";
import { positiveInteger, readOptions, text, toggle } from "../option-table.ts";
import { isAbsolutePath } from "../options.ts";
import type { RestoreFlags } from "./restore-args.ts";
import type { Selection } from "./selection.ts";
import { parseAsOf } from "./snapshot-time.ts";
import { hostnameOfNamespace, type SourceFilter } from "./source.ts";

const isNamespaceName = (text: string) => text.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(text);
const isPvcName = (text: string) => text.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text);

/** kopia-restore's options, each declared once; the repository's come from the kopia scripts' table. */
const restoreOptions = {
  list: toggle({ flag: "--list", env: "KK_RESTORE_LIST", help: "List snapshots (NAMESPACE PVC ID TIME FILES SIZE ERRORS, newest first) instead of restoring" }),
  all: toggle({ flag: "--all", env: "KK_RESTORE_ALL", help: "With --list: every source in the repository" }),
  json: toggle({ flag: "--json", env: "KK_RESTORE_JSON", help: "With --list: one JSON list instead of the table" }),
  namespace: text({ flag: "--namespace <ns>", env: "KK_NAMESPACE", help: "Namespace of the PVC operator-backup backed up (its Kopia hostname)" }),
  pvc: text({ flag: "--pvc <name>", env: "KK_PVC", help: "The PVC (its Kopia username)" }),
  clusterName: text({ flag: "--cluster-name <name>", env: "KK_CLUSTER_NAME", help: "operator-backup's --cluster-name, if it had one (hostname namespace.<name>)" }),
  hostname: text({ flag: "--hostname <name>", env: "KK_HOSTNAME", help: "Kopia identity host of the source, as kopia-backup --hostname (instead of --namespace)" }),
  username: text({ flag: "--username <name>", env: "KK_USERNAME", help: "Kopia identity user of the source, as kopia-backup --username (instead of --pvc)" }),
  sourcePath: text({ flag: "--source-path <path>", env: "KK_SOURCE_PATH", help: "Path of the source, when its host and user have several", defaultHelp: "the only one" }),
  snapshot: text({ flag: "--snapshot <id>", env: "KK_RESTORE_SNAPSHOT", help: "Snapshot ID or a unique prefix of one (no source needed), or latest", defaultHelp: "latest" }),
  asOf: text({ flag: "--as-of <time>", env: "KK_RESTORE_AS_OF", help: "The newest complete snapshot started at or before this RFC 3339 time with a zone, e.g. 2026-05-01T03:00:00Z" }),
  offset: text({ flag: "--offset <n>", env: "KK_RESTORE_OFFSET", help: "Skip the n newest (complete, --as-of) snapshots: 1 is the one before the latest", defaultHelp: "0" }),
  target: text({ flag: "--target <dir>", env: "KK_RESTORE_TARGET", help: "Where to restore: a folder that is empty or does not exist yet, a file name for a file, or - for stdout" }),
  subpath: text({ flag: "--subpath <path>", env: "KK_RESTORE_SUBPATH", help: "Restore only this folder or file of the snapshot (relative to its root)" }),
  overwrite: toggle({ flag: "--overwrite", env: "KK_RESTORE_OVERWRITE", help: "Restore into a target that is not empty, replacing files that differ" }),
  deleteExtra: toggle({ flag: "--delete-extra", env: "KK_RESTORE_DELETE_EXTRA", help: "With --overwrite: delete what the snapshot does not hold (the target becomes a mirror)" }),
  skipExisting: toggle({ flag: "--skip-existing", env: "KK_RESTORE_SKIP_EXISTING", help: "Keep files that already match the snapshot (size and mtime), write the rest: resumes an interrupted restore" }),
  skipOwners: toggle({ flag: "--skip-owners", env: "KK_RESTORE_SKIP_OWNERS", help: "Do not restore owners (a restore as non-root); permission errors are then counted, not fatal" }),
  ignoreErrors: toggle({ flag: "--ignore-errors", env: "KK_RESTORE_IGNORE_ERRORS", help: "Carry on past entries that fail (counted, exit 3)" }),
  parallel: positiveInteger({ flag: "--parallel <n>", env: "KK_RESTORE_PARALLEL", help: "Files restored at once", default: "8" }),
  dryRun: toggle({ flag: "--dry-run", env: "KK_RESTORE_DRY_RUN", help: "Print the chosen snapshot and what would be written; write nothing" }),
  summaryFile: text({ flag: "--summary-file <file>", env: "KK_SUMMARY_FILE", help: "Write the JSON summary here, e.g. /dev/termination-log" }),
};

/** Everything kopia-restore declares: its own options and the repository's. */
export const kopiaRestoreOptions = { ...restoreOptions, ...kopiaOptions };
type Key = keyof typeof restoreOptions;

export type RestoreSettings =
  | { action: "list"; filter: SourceFilter; json: boolean; summaryFile?: string }
  | {
      action: "restore";
      /** Undefined only with --snapshot alone: the ID is then looked up in the whole repository. */
      filter?: SourceFilter;
      selection: Selection;
      subpath?: string;
      /** Absolute, or "-" for stdout; undefined only for a dry run (a plan without a volume). */
      target?: string;
      write: Omit<RestoreFlags, "targetHoldsLostAndFound">;
      dryRun: boolean;
      summaryFile?: string;
    };

/** Every restore option read and checked; a bad one is one line naming it and the fix (exit 2). */
export function resolveRestoreSettings(flags: Record<string, unknown>): RestoreSettings {
  const options = readOptions(flags, restoreOptions);
  const value = (key: Key) => options[key] as string | undefined;
  const on = (key: Key) => options[key] as boolean;
  const refuse = (message: string) => usageError(`${message}; see kopia-restore --help`);

  const filter = resolveSourceFilter(value);
  const list = on("list");
  const all = on("all");
  if (all && !list) throw refuse("--all: only lists; add --list");
  if (on("json") && !list) throw refuse("--json: only for --list; add --list");

  if (list) {
    const given = ["snapshot", "asOf", "offset", "target", "subpath"].filter((key) => value(key as Key) !== undefined);
    if (given.length) throw refuse(`--list: only lists; drop ${given.map((key) => restoreOptions[key as Key].flag!.split(" ")[0]).join(", ")}`);
    if (all && Object.keys(filter).length) throw refuse("--all: lists every source; drop --namespace/--pvc/--hostname/--username/--source-path, or drop --all");
    if (!all && !Object.keys(filter).length) throw refuse("--list: which source? give --namespace and/or --pvc (or --hostname/--username), or --all");
    const summaryFile = value("summaryFile");
    if (summaryFile !== undefined && !isAbsolutePath(summaryFile)) throw refuse(`--summary-file: '${summaryFile}' must be an absolute path, e.g. /dev/termination-log`);
    return { action: "list", filter, json: on("json"), ...(summaryFile ? { summaryFile } : {}) };
  }

  const selection = resolveSelection(value);
  if (selection.snapshotId === undefined && (filter.hostname === undefined || filter.username === undefined)) {
    throw refuse("which snapshot? give --namespace and --pvc (or --hostname and --username), or --snapshot <id>; list them with --list --all");
  }

  const dryRun = on("dryRun");
  const target = resolveTarget(value("target"), dryRun);
  const subpath = resolveSubpath(value("subpath"));
  if (target === "-" && !subpath) throw refuse("--target -: stdout takes one file; add --subpath <file in the snapshot>");

  const write = {
    overwrite: on("overwrite"),
    deleteExtra: on("deleteExtra"),
    skipExisting: on("skipExisting"),
    skipOwners: on("skipOwners"),
    ignoreErrors: on("ignoreErrors"),
    parallel: options.parallel,
  };
  if (write.deleteExtra && !write.overwrite) throw refuse("--delete-extra: deletes files, so it needs --overwrite too");
  if (target === "-" && (write.overwrite || write.skipExisting || write.deleteExtra)) throw refuse("--target -: stdout is never overwritten; drop --overwrite/--skip-existing/--delete-extra");

  const summaryFile = value("summaryFile");
  if (summaryFile !== undefined && !isAbsolutePath(summaryFile)) throw refuse(`--summary-file: '${summaryFile}' must be an absolute path, e.g. /dev/termination-log`);
  return {
    action: "restore",
    ...(Object.keys(filter).length ? { filter } : {}),
    selection,
    ...(subpath ? { subpath } : {}),
    ...(target ? { target } : {}),
    write,
    dryRun,
    ...(summaryFile ? { summaryFile } : {}),
  };
}

/** --namespace/--pvc (operator-backup's sources) or --hostname/--username, never a mix. */
function resolveSourceFilter(value: (key: Key) => string | undefined): SourceFilter {
  const namespace = value("namespace");
  const pvc = value("pvc");
  const clusterName = value("clusterName");
  const hostname = value("hostname");
  const username = value("username");
  const sourcePath = value("sourcePath");
  if ((namespace !== undefined || pvc !== undefined) && (hostname !== undefined || username !== undefined)) {
    throw usageError("--namespace/--pvc name the same thing as --hostname/--username; give one pair (check KK_HOSTNAME and KK_USERNAME in the environment)");
  }
  if (namespace !== undefined && !isNamespaceName(namespace)) throw usageError(`--namespace: '${namespace}' is not a namespace name (lower-case letters, digits and '-', at most 63)`);
  if (pvc !== undefined && !isPvcName(pvc)) throw usageError(`--pvc: '${pvc}' is not a PVC name (lower-case letters, digits, '-' and '.')`);
  if (clusterName !== undefined) {
    if (namespace === undefined) throw usageError("--cluster-name: only with --namespace (it is part of the namespace's Kopia hostname); drop it or add --namespace");
    if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(clusterName)) throw usageError(`--cluster-name: '${clusterName}' must be lower-case letters, digits, '-' and '.', as operator-backup's`);
  }
  for (const [field, identity] of [["--hostname", hostname], ["--username", username]] as const) {
    if (identity !== undefined && !/^[A-Za-z0-9][\w.-]*$/.test(identity)) throw usageError(`${field}: '${identity}' may hold only letters, digits, '.', '_' and '-'`);
  }
  if (sourcePath !== undefined && !isAbsolutePath(sourcePath)) throw usageError(`--source-path: '${sourcePath}' must be an absolute path, e.g. /data`);
  const filter: SourceFilter = {};
  const host = namespace !== undefined ? hostnameOfNamespace(namespace, clusterName) : hostname;
  const user = pvc ?? username;
  if (host !== undefined) filter.hostname = host;
  if (user !== undefined) filter.username = user;
  if (sourcePath !== undefined) filter.path = sourcePath.replace(/(.)\/+$/, "$1");
  return filter;
}

/** --snapshot, --as-of and --offset as one Selection; operator-restore checks its own copies of these flags with it. */
export function resolveSelection(value: (key: "snapshot" | "asOf" | "offset") => string | undefined): Selection {
  const snapshot = value("snapshot");
  const asOf = value("asOf");
  const offsetText = value("offset");
  if (snapshot !== undefined && snapshot !== "latest") {
    if (!/^[0-9a-f]{1,64}$/.test(snapshot)) throw usageError(`--snapshot: '${snapshot}' is not a snapshot ID; give the ID (or its start) as --list shows it, e.g. 2753d6c2, or latest`);
    if (asOf !== undefined || offsetText !== undefined) throw usageError("--snapshot names one snapshot; drop --as-of and --offset, or drop --snapshot");
    return { snapshotId: snapshot };
  }
  const selection: Selection = {};
  if (asOf !== undefined) selection.asOf = parseAsOf(asOf);
  if (offsetText !== undefined) {
    if (!/^\d+$/.test(offsetText.trim())) throw usageError(`--offset: '${offsetText}' is not a whole number; 0 is the newest snapshot, 1 the one before, e.g. --offset 1`);
    selection.offset = Number(offsetText.trim());
  }
  return selection;
}

function resolveTarget(target: string | undefined, dryRun: boolean): string | undefined {
  if (target === undefined) {
    if (dryRun) return undefined;
    throw usageError("--target: where to restore? give a folder that is empty or does not exist yet, e.g. --target ./restored (KK_RESTORE_TARGET)");
  }
  if (target === "-") return target;
  if (!target.trim() || /[\x00-\x1f\x7f]/.test(target)) throw usageError(`--target: '${JSON.stringify(target).slice(1, -1)}' is not a usable path`);
  return resolve(target);
}

/** A path inside the snapshot: leading and trailing slashes dropped, never leaving its root. */
function resolveSubpath(subpath: string | undefined): string | undefined {
  if (subpath === undefined) return undefined;
  const parts = subpath.split("/").filter(Boolean);
  if (parts.length === 0) return undefined;
  if (parts.some((part) => part === "." || part === "..") || /[\x00-\x1f\x7f]/.test(subpath)) {
    throw usageError(`--subpath: '${JSON.stringify(subpath).slice(1, -1)}' must be a path inside the snapshot without '.' or '..', e.g. uploads/2026`);
  }
  return parts.join("/");
}
