import { usageError } from "../exit-codes.ts";
import { duration, list, positiveInteger, readOptions, text, toggle, valueOption } from "../option-table.ts";
import { parsePositiveInteger } from "../options.ts";
import { repositoryOption } from "../repository.ts";
import { backupFlags, retentionFrom, retentionOptions, tagsOption } from "../retention.ts";
import { loggingOptions, pushgatewayOption } from "../script-options.ts";
import { MAX_VOLUMES } from "../volumes-summary.ts";
import { dnsLabel, jobRunOptions, resolveJobRun } from "./job-run-options.ts";
import { HOOK_ON_ERROR } from "./plan.ts";

/** kopia-backup --volumes takes at most MAX_VOLUMES: more would not fit the Job's termination message. */
const volumesPerJob = valueOption((value, field) => {
  const count = parsePositiveInteger(value, field)!;
  if (count > MAX_VOLUMES) throw usageError(`${field}: ${count} is more than ${MAX_VOLUMES}, the most one Job reports on; give at most ${MAX_VOLUMES}`);
  return count;
});

/** Every option of operator-backup, each declared once. */
export const operatorBackupOptions = {
  namespaces: list({ flag: "--namespace <ns>", env: "KK_NAMESPACES", help: "Only these namespaces; repeatable or comma-separated", defaultHelp: "all" }),
  selector: text({ flag: "--selector <labels>", env: "KK_SELECTOR", help: "Only pods matching this label selector; unmounted PVCs are then left out" }),
  preBackupAnnotation: text({ flag: "--pre-backup-annotation <key>", env: "KK_PRE_BACKUP_ANNOTATION", help: "Pod annotation holding the pre-backup command", default: "kopia-k8s.io/pre-backup" }),
  postBackupAnnotation: text({ flag: "--post-backup-annotation <key>", env: "KK_POST_BACKUP_ANNOTATION", help: "Pod annotation holding the post-backup command", default: "kopia-k8s.io/post-backup" }),
  hookShell: text({ flag: "--hook-shell <shell>", env: "KK_HOOK_SHELL", help: "Shell that runs hook commands in the app container", default: "sh" }),
  hookOnError: valueOption((value, field) => {
    const mode = HOOK_ON_ERROR.find((candidate) => candidate === value.trim().toLowerCase());
    if (!mode) throw usageError(`${field}: '${value}' must be abort or continue`);
    return mode;
  })({ flag: "--hook-on-error <mode>", env: "KK_HOOK_ON_ERROR", help: "A failed pre-backup hook: abort the run, or continue without that pod's volumes; per pod: annotation <key>-on-error", default: "abort" }),
  hookTimeoutMs: duration({ flag: "--hook-timeout <duration>", env: "KK_HOOK_TIMEOUT", help: "Default hook timeout, e.g. 30s, 5m", default: "5m" }),
  ...jobRunOptions,
  concurrency: positiveInteger({ flag: "--concurrency <n>", env: "KK_CONCURRENCY", help: "Backup Jobs active at once over the whole run", defaultHelp: "one per node with volumes to back up, at least 3" }),
  nodeConcurrency: positiveInteger({ flag: "--node-concurrency <n>", env: "KK_NODE_CONCURRENCY", help: "Backup Jobs active at once on one node; a volume not on a node yet counts against --concurrency only", default: "3" }),
  volumesPerJob: volumesPerJob({ flag: "--volumes-per-job <n>", env: "KK_VOLUMES_PER_JOB", help: `PVCs of one namespace on one node read by one backup Job, one after another (1 to ${MAX_VOLUMES}); 1: a Job per PVC`, default: "10" }),
  jobPrefix: dnsLabel(16)({ flag: "--job-prefix <prefix>", env: "KK_JOB_PREFIX", help: "Job name prefix", default: "kopia-backup" }),
  // Under a day, so that a daily schedule never finds the previous night's run still going.
  jobDeadlineMs: duration({ flag: "--job-deadline <duration>", env: "KK_JOB_DEADLINE", help: "A backup or maintenance Job still running after this fails", default: "23h" }),
  maintenance: toggle({ flag: "--no-maintenance", env: "KK_MAINTENANCE", help: "Do not run kopia-maintenance as a Job after the backups" }),
  maintenanceNamespace: text({ flag: "--maintenance-namespace <ns>", env: "KK_MAINTENANCE_NAMESPACE", help: "Namespace of the maintenance Job", defaultHelp: "this identity's namespace" }),
  dryRun: toggle({ flag: "--dry-run", help: "Print the plan (hooks, Jobs and their nodes) and change nothing" }),
  repository: repositoryOption("s3://backups?endpoint=minio:9000"),
  pushgatewayUrl: pushgatewayOption,
  tags: tagsOption("Passed to kopia-backup; repeatable"),
  ...retentionOptions(() => "Passed to kopia-backup"),
  ...loggingOptions,
};

export type OperatorSettings = ReturnType<typeof resolveOperatorSettings>;

/** The options, and what follows from them: the run id, the Jobs' resources, Secret contents and kopia-backup flags. */
export function resolveOperatorSettings(flags: Record<string, unknown>) {
  const options = readOptions(flags, operatorBackupOptions);
  return {
    ...options,
    ...resolveJobRun(options),
    backupArgs: backupFlags(options.tags, retentionFrom(options)),
  };
}

export { jobSettingsFrom } from "./job-run-options.ts";
