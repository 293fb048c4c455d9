import { usageError } from "../exit-codes.ts";
import { duration, list, positiveInteger, readOptions, text, toggle } from "../option-table.ts";
import { repositoryOption } from "../repository.ts";
import { kopiaRestoreOptions, resolveSelection } from "../restore/options.ts";
import { loggingOptions } from "../script-options.ts";
import { dnsLabel, jobRunOptions, resolveJobRun } from "./job-run-options.ts";
import { isDnsLabel, isSecretName } from "./names.ts";

export const ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"] as const;
const QUANTITY = /^\d+(\.\d+)?(k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/;

/** Every option of operator-restore, each declared once; the Job options are operator-backup's, the selection and write flags kopia-restore's. */
export const operatorRestoreOptions = {
  namespaces: list({ flag: "--namespace <ns>", env: "KK_NAMESPACES", help: "The PVC's namespace (its Kopia hostname); with --all, only these namespaces (repeatable)" }),
  pvc: text({ flag: "--pvc <name>", env: "KK_PVC", help: "The PVC to restore (its Kopia username)" }),
  all: toggle({ flag: "--all", env: "KK_RESTORE_ALL", help: "Disaster recovery: recreate every PVC the repository knows (from the claims its snapshots record) and restore each" }),
  snapshot: text({ flag: "--snapshot <id>", env: "KK_RESTORE_SNAPSHOT", help: "Snapshot ID or a unique prefix of one, or latest", defaultHelp: "latest" }),
  asOf: kopiaRestoreOptions.asOf,
  offset: kopiaRestoreOptions.offset,
  subpath: text({ flag: "--subpath <path>", env: "KK_RESTORE_SUBPATH", help: "Restore only this folder or file of the snapshot, to the same place in the volume" }),
  toPvc: text({ flag: "--to-pvc <name>", env: "KK_RESTORE_TO_PVC", help: "Restore into this PVC (created when missing) instead of the original" }),
  toNamespace: text({ flag: "--to-namespace <ns>", env: "KK_RESTORE_TO_NAMESPACE", help: "Namespace of --to-pvc", defaultHelp: "--namespace" }),
  createNamespace: toggle({ flag: "--create-namespace", env: "KK_RESTORE_CREATE_NAMESPACE", help: "Create the target namespace when it does not exist" }),
  size: text({ flag: "--size <quantity>", env: "KK_RESTORE_SIZE", help: "Size of a PVC to create, e.g. 10Gi", defaultHelp: "the original PVC's, else the backup's" }),
  storageClass: text({ flag: "--storage-class <name>", env: "KK_RESTORE_STORAGE_CLASS", help: "Storage class of a PVC to create", defaultHelp: "the original PVC's, else the backup's" }),
  accessModes: list({ flag: "--access-mode <mode>", env: "KK_RESTORE_ACCESS_MODES", help: "Access mode of a PVC to create (ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod); repeatable", defaultHelp: "the original PVC's, else the backup's" }),
  scaleDown: toggle({ flag: "--scale-down", env: "KK_RESTORE_SCALE_DOWN", help: "Scale the Deployments/StatefulSets whose pods mount the PVC to 0, restore, and scale them back only after success" }),
  allowRunning: toggle({ flag: "--allow-running", env: "KK_RESTORE_ALLOW_RUNNING", help: "Restore while pods mount the PVC (the Job runs on their node; the app sees files change)" }),
  overwrite: kopiaRestoreOptions.overwrite,
  deleteExtra: kopiaRestoreOptions.deleteExtra,
  skipExisting: kopiaRestoreOptions.skipExisting,
  skipOwners: kopiaRestoreOptions.skipOwners,
  repositoryNode: text({ flag: "--repository-node <node>", env: "KK_REPOSITORY_NODE", help: "A filesystem repository that is one node's folder: the Jobs that pick the snapshot run on this node", defaultHelp: "any node (the folder is on every node)" }),
  jobNamespace: text({ flag: "--job-namespace <ns>", env: "KK_JOB_NAMESPACE", help: "Namespace of the Jobs that pick the snapshot (they mount no volume)", defaultHelp: "this identity's namespace" }),
  dryRun: toggle({ flag: "--dry-run", help: "Pick the snapshot (one short Job), print the plan, change nothing else" }),
  ...jobRunOptions,
  image: { ...jobRunOptions.image, help: "Image with kopia-restore and kopia" },
  backoffLimit: { ...jobRunOptions.backoffLimit, help: "Retries of a failed restore Job" },
  concurrency: positiveInteger({ flag: "--concurrency <n>", env: "KK_CONCURRENCY", help: "Restore Jobs active at once (with --all)", default: "3" }),
  jobPrefix: dnsLabel(16)({ flag: "--job-prefix <prefix>", env: "KK_JOB_PREFIX", help: "Job name prefix", default: "kopia-restore" }),
  jobDeadlineMs: duration({ flag: "--job-deadline <duration>", env: "KK_JOB_DEADLINE", help: "A restore Job still running after this fails", default: "23h" }),
  repository: repositoryOption("s3://backups?endpoint=minio:9000"),
  ...loggingOptions,
};

/** A PVC: where a restore reads from (a Kopia source) or writes to. */
export interface PvcRef {
  namespace: string;
  pvc: string;
}

/** What a PVC to create may be told by flags; each overrides the original PVC's or the backup's. */
export interface ClaimOverrides {
  size?: string;
  storageClass?: string;
  accessModes?: string[];
}

export type OperatorRestoreSettings = ReturnType<typeof resolveOperatorRestoreSettings>;

/** The options, checked together, and what follows from them. A bad one is one line naming it and the fix (exit 2). */
export function resolveOperatorRestoreSettings(flags: Record<string, unknown>) {
  const options = readOptions(flags, operatorRestoreOptions);
  const refuse = (message: string) => usageError(`${message}; see operator-restore --help`);
  for (const namespace of [...options.namespaces, ...(options.toNamespace ? [options.toNamespace] : []), ...(options.jobNamespace ? [options.jobNamespace] : [])]) {
    if (!isDnsLabel(namespace)) throw refuse(`namespace '${namespace}' is not a namespace name (lower-case letters, digits and '-', at most 63)`);
  }
  for (const [field, name] of [["--pvc", options.pvc], ["--to-pvc", options.toPvc]] as const) {
    if (name !== undefined && !isSecretName(name)) throw refuse(`${field}: '${name}' is not a PVC name (lower-case letters, digits, '-' and '.')`);
  }
  if (options.size !== undefined && !QUANTITY.test(options.size)) throw refuse(`--size: '${options.size}' is not a quantity, e.g. 10Gi`);
  if (options.storageClass !== undefined && !isSecretName(options.storageClass)) throw refuse(`--storage-class: '${options.storageClass}' is not a storage class name`);
  for (const mode of options.accessModes) {
    if (!(ACCESS_MODES as readonly string[]).includes(mode)) throw refuse(`--access-mode: '${mode}' must be ${ACCESS_MODES.join(", ")}`);
  }
  if (options.scaleDown && options.allowRunning) throw refuse("--scale-down and --allow-running contradict each other; give one");
  if (options.deleteExtra && !options.overwrite) throw refuse("--delete-extra: only with --overwrite (it deletes what the snapshot lacks)");
  if (options.overwrite && options.skipExisting) throw refuse("--overwrite and --skip-existing contradict each other; give one");
  if (options.repositoryNode !== undefined && !options.repository.localPath) throw refuse("--repository-node: only for a filesystem: repository, the folder of one node");
  if (options.repositoryNode !== undefined && !isSecretName(options.repositoryNode)) throw refuse(`--repository-node: '${options.repositoryNode}' is not a node name`);
  const selection = resolveSelection((key) => options[key]);
  const subpath = options.subpath?.split("/").filter(Boolean).join("/") || undefined;
  if (subpath !== undefined && subpath.split("/").some((part) => part === "." || part === "..")) throw refuse(`--subpath: '${options.subpath}' must be a path inside the snapshot without '.' or '..'`);

  let source: PvcRef | undefined;
  let target: PvcRef | undefined;
  if (options.all) {
    const given = (["pvc", "toPvc", "toNamespace", "subpath", "snapshot"] as const).filter((key) => options[key] !== undefined);
    if (given.length) throw refuse(`--all: restores every PVC to its own name; drop ${given.map((key) => operatorRestoreOptions[key].flag!.split(" ")[0]).join(", ")}`);
  } else {
    if (options.pvc === undefined) throw refuse("which PVC? give --namespace and --pvc, or --all for every PVC the repository knows");
    if (options.namespaces.length !== 1) throw refuse(`--namespace: give exactly one with --pvc (got ${options.namespaces.length || "none"})`);
    source = { namespace: options.namespaces[0]!, pvc: options.pvc };
    target = { namespace: options.toNamespace ?? source.namespace, pvc: options.toPvc ?? source.pvc };
  }

  const write = [
    ...(options.overwrite ? ["--overwrite"] : []),
    ...(options.deleteExtra ? ["--delete-extra"] : []),
    ...(options.skipExisting ? ["--skip-existing"] : []),
    ...(options.skipOwners ? ["--skip-owners"] : []),
  ];
  const claimOverrides: ClaimOverrides = {
    ...(options.size ? { size: options.size } : {}),
    ...(options.storageClass ? { storageClass: options.storageClass } : {}),
    ...(options.accessModes.length ? { accessModes: options.accessModes } : {}),
  };
  return {
    ...options,
    ...resolveJobRun(options),
    backupArgs: [] as string[],
    source,
    target,
    subpath,
    /** kopia-restore's selection flags, as given (checked above with kopia-restore's own rules). */
    selectionArgs: [
      ...(options.snapshot !== undefined ? ["--snapshot", options.snapshot] : []),
      ...(options.asOf !== undefined ? ["--as-of", options.asOf] : []),
      ...(options.offset !== undefined ? ["--offset", options.offset] : []),
    ],
    describedSelection: selection.snapshotId ? `snapshot ${selection.snapshotId}` : `${options.asOf ? `the newest as of ${options.asOf}` : "the latest"}${selection.offset ? `, ${selection.offset} further back` : ""}`,
    /** kopia-restore's write flags: never an overwrite without asking. */
    writeArgs: write,
    claimOverrides,
  };
}
