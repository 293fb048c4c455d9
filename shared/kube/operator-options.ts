import type { Command } from "cac";
import type { V1ResourceRequirements } from "@kubernetes/client-node";
import { usageError } from "../exit-codes.ts";
import { resolveCommonSettings, resolvePassword } from "../kopia-options.ts";
import type { LogFormat, Logger } from "../log.ts";
import { commaSeparated, flagOrEnv, listFlagOrEnv, parseBoolean, parseDuration, parsePositiveInteger, parseNonNegativeInteger } from "../options.ts";
import { parseRepositoryUrl, repositoryUrlFromSeedEnv, type Repository } from "../repository.ts";
import { backupFlags, RETENTION_KEYS, resolveRetention, resolveTags } from "../backup.ts";
import type { JobSettings } from "./job-spec.ts";
import { resolveJobKeyFiles, type JobKeyFiles } from "./key-files.ts";
import { isDnsLabel, isSecretName, newRunId } from "./names.ts";
import { HOOK_ON_ERROR, type HookOnError } from "./plan.ts";

export function declareOperatorOptions(command: Command): void {
  command
    .option("--namespace <ns>", "Only these namespaces; repeatable or comma-separated (env KK_NAMESPACES) [default: all]")
    .option("--selector <labels>", "Only pods matching this label selector (env KK_SELECTOR); unmounted PVCs are then left out")
    .option("--pre-backup-annotation <key>", "Pod annotation holding the pre-backup command (env KK_PRE_BACKUP_ANNOTATION) [default: kopia-k8s.io/pre-backup]")
    .option("--post-backup-annotation <key>", "Pod annotation holding the post-backup command (env KK_POST_BACKUP_ANNOTATION) [default: kopia-k8s.io/post-backup]")
    .option("--hook-shell <shell>", "Shell that runs hook commands in the app container (env KK_HOOK_SHELL) [default: sh]")
    .option("--hook-on-error <mode>", "A failed pre-backup hook: abort the run, or continue without that pod's volumes; per pod: annotation <key>-on-error (env KK_HOOK_ON_ERROR) [default: abort]")
    .option("--hook-timeout <duration>", "Default hook timeout, e.g. 30s, 5m (env KK_HOOK_TIMEOUT) [default: 5m]")
    .option("--concurrency <n>", "Backup Jobs active at once (env KK_CONCURRENCY) [default: 3]")
    .option("--pending-timeout <duration>", "Delete a Job whose pod stays Pending this long (env KK_PENDING_TIMEOUT) [default: 15m]")
    .option("--cluster-name <name>", "Part of every Kopia source (pvc@namespace.<name>) when several clusters write one repository (env KK_CLUSTER_NAME)")
    .option("--uuid <id>", "Run id used in Job names and labels (env KK_UUID) [default: random]")
    .option("--job-prefix <prefix>", "Job name prefix (env KK_JOB_PREFIX) [default: kopia-backup]")
    .option("--image <image>", "Image with kopia-backup and kopia (env KK_IMAGE) [default: kopia-k8s:0.1.0]")
    .option("--image-pull-policy <policy>", "Always, IfNotPresent or Never (env KK_IMAGE_PULL_POLICY)")
    .option("--secret <name>", "Use this existing Secret (in every PVC's namespace) instead of a per-Job Secret (env KK_SECRET)")
    .option("--key-files-secret <name>", "Existing Secret (in every PVC's namespace and the maintenance one) with the repository's key files: keyfile and known-hosts (sftp), credentials-file (gcs), rclone-config (rclone) (env KK_KEY_FILES_SECRET) [default: the files the repository names, copied into the per-Job Secret]")
    .option("--image-pull-secret <name>", "Secret for a private registry, in every PVC's namespace; repeatable (env KK_IMAGE_PULL_SECRETS, comma-separated)")
    .option("--job-label <key=value>", "Extra label on Jobs and their pods; repeatable (env KK_JOB_LABELS)")
    .option("--job-annotation <key=value>", "Extra annotation on Jobs and their pods, e.g. sidecar.istio.io/inject=false; repeatable (env KK_JOB_ANNOTATIONS)")
    .option("--job-requests <list>", "Container requests, each replacing its default (env KK_JOB_REQUESTS) [default: cpu=100m,memory=256Mi]")
    .option("--job-limits <list>", "Container limits, each replacing its default (env KK_JOB_LIMITS) [default: memory=2Gi]")
    .option("--cache-size-mb <n>", "kopia's cache in each Job, MiB; the Job's state volume is limited to twice that plus 1 GiB (env KK_KOPIA_CACHE_SIZE_MB) [default: 1024]")
    .option("--backoff-limit <n>", "Retries of a failed backup Job (env KK_BACKOFF_LIMIT) [default: 0]")
    .option("--job-deadline <duration>", "A backup or maintenance Job still running after this fails (env KK_JOB_DEADLINE) [default: 23h]")
    .option("--no-maintenance", "Do not run kopia-maintenance as a Job after the backups (env KK_MAINTENANCE=false)")
    .option("--maintenance-namespace <ns>", "Namespace of the maintenance Job (env KK_MAINTENANCE_NAMESPACE) [default: this identity's namespace]")
    .option("--dry-run", "Print the plan (hooks, Jobs and their nodes) and change nothing")
    .option("--repository <url>", "Repository URL, as for kopia-backup (env KK_REPOSITORY; or KK_BUCKET + KK_ENDPOINT)")
    .option("--pushgateway-url <url>", "Passed to the Jobs' kopia-backup (env KK_PUSHGATEWAY_URL)")
    .option("--tag <key:value>", "Passed to kopia-backup; repeatable (env KK_TAGS)");
  for (const unit of RETENTION_KEYS) command.option(`--keep-${unit} <n>`, `Passed to kopia-backup (env KK_KEEP_${unit.toUpperCase()})`);
  command
    .option("--log-format <format>", "text or json (env KK_LOG_FORMAT) [default: text]")
    .option("--debug", "Log debug details (env KK_DEBUG)");
}

/** Storage secrets handed to the Jobs through their Secret when present in this environment. */
const STORAGE_SECRET_ENV = [
  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "B2_KEY_ID", "B2_KEY",
  "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "KOPIA_WEBDAV_USERNAME", "KOPIA_WEBDAV_PASSWORD",
];

function imagePullSecrets(values: string[]): string[] {
  const names = commaSeparated(values);
  for (const name of names) {
    if (!isSecretName(name)) {
      throw usageError(`--image-pull-secret: '${name}' is not a Secret name (lower-case letters, digits, '-' and '.')`);
    }
  }
  return names;
}

/** The password and the storage secrets of this environment, for the per-Job Secret; rclone's remotes too. */
function credentialsFromEnvironment(repository: Repository): Record<string, string> {
  const secretData: Record<string, string> = { KOPIA_PASSWORD: resolvePassword() };
  for (const name of STORAGE_SECRET_ENV) if (process.env[name]) secretData[name] = process.env[name]!;
  if (repository.kind === "rclone") {
    for (const [name, value] of Object.entries(process.env)) if (name.startsWith("RCLONE_CONFIG_") && value) secretData[name] = value;
  }
  return secretData;
}

export interface OperatorSettings {
  log: Logger;
  logFormat: LogFormat;
  namespaces: string[];
  selector?: string;
  preBackupAnnotation: string;
  postBackupAnnotation: string;
  hookTimeoutMs: number;
  hookOnError: HookOnError;
  hookShell: string;
  concurrency: number;
  pendingTimeoutMs: number;
  watchTimeoutSeconds: number;
  runId: string;
  /** The run id came from --uuid (KK_UUID): an earlier run's Jobs may still carry it. */
  runIdGiven: boolean;
  clusterName?: string;
  jobPrefix: string;
  image: string;
  imagePullPolicy?: string;
  imagePullSecrets: string[];
  userSecretName?: string;
  jobLabels: Record<string, string>;
  jobAnnotations: Record<string, string>;
  resources: V1ResourceRequirements;
  cacheSizeMB: number;
  backoffLimit: number;
  jobDeadlineMs: number;
  maintenance: boolean;
  maintenanceNamespace?: string;
  dryRun: boolean;
  repository: Repository;
  /** What the per-Job Secret holds: the password and the storage secrets of this environment, then the key files. */
  secretData: Record<string, string>;
  /** The variables of the per-Job Secret (its other keys are key files). */
  secretEnvNames: string[];
  keyFiles: JobKeyFiles;
  pushgatewayUrl?: string;
  backupArgs: string[];
}

export function resolveOperatorSettings(flags: Record<string, unknown>): OperatorSettings {
  const { log, logFormat, pushgatewayUrl } = resolveCommonSettings(flags);

  const url = flagOrEnv(flags.repository, "KK_REPOSITORY") ?? repositoryUrlFromSeedEnv(process.env);
  if (!url) throw usageError("--repository: no repository given; set --repository or KK_REPOSITORY, e.g. s3://backups?endpoint=minio:9000");
  const repository = parseRepositoryUrl(url);
  const userSecretName = flagOrEnv(flags.secret, "KK_SECRET");
  const keyFiles = resolveJobKeyFiles(repository, flagOrEnv(flags.keyFilesSecret, "KK_KEY_FILES_SECRET"), userSecretName);
  // With --secret the Jobs read the user's own Secret: this environment needs no credentials.
  const credentials = userSecretName ? {} : credentialsFromEnvironment(repository);

  const givenRunId = flagOrEnv(flags.uuid, "KK_UUID");
  const runId = givenRunId ?? newRunId();
  if (!isDnsLabel(runId) || runId.length > 36) throw usageError(`--uuid: '${runId}' must be lower-case letters, digits and '-', at most 36 characters`);
  const jobPrefix = flagOrEnv(flags.jobPrefix, "KK_JOB_PREFIX") ?? "kopia-backup";
  if (!isDnsLabel(jobPrefix) || jobPrefix.length > 16) throw usageError(`--job-prefix: '${jobPrefix}' must be lower-case letters, digits and '-', at most 16 characters`);

  const backupArgs = backupFlags(resolveTags(flags), resolveRetention(flags));

  const maintenanceEnv = flagOrEnv(undefined, "KK_MAINTENANCE");
  const maintenanceNamespace = flagOrEnv(flags.maintenanceNamespace, "KK_MAINTENANCE_NAMESPACE");
  const imagePullPolicy = flagOrEnv(flags.imagePullPolicy, "KK_IMAGE_PULL_POLICY");
  if (imagePullPolicy && !["Always", "IfNotPresent", "Never"].includes(imagePullPolicy)) {
    throw usageError(`--image-pull-policy: '${imagePullPolicy}' must be Always, IfNotPresent or Never`);
  }
  const selector = flagOrEnv(flags.selector, "KK_SELECTOR");
  const clusterName = flagOrEnv(flags.clusterName, "KK_CLUSTER_NAME");
  if (clusterName !== undefined && !/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(clusterName)) {
    throw usageError(`--cluster-name: '${clusterName}' must be lower-case letters, digits, '-' and '.', at most 63 characters, e.g. homelab`);
  }
  return {
    log,
    logFormat,
    namespaces: commaSeparated(listFlagOrEnv(flags.namespace, "KK_NAMESPACES")),
    ...(selector ? { selector } : {}),
    preBackupAnnotation: flagOrEnv(flags.preBackupAnnotation, "KK_PRE_BACKUP_ANNOTATION") ?? "kopia-k8s.io/pre-backup",
    postBackupAnnotation: flagOrEnv(flags.postBackupAnnotation, "KK_POST_BACKUP_ANNOTATION") ?? "kopia-k8s.io/post-backup",
    hookTimeoutMs: parseDuration(flagOrEnv(flags.hookTimeout, "KK_HOOK_TIMEOUT") ?? "5m", "--hook-timeout"),
    hookOnError: parseHookOnError(flagOrEnv(flags.hookOnError, "KK_HOOK_ON_ERROR") ?? "abort"),
    hookShell: flagOrEnv(flags.hookShell, "KK_HOOK_SHELL") ?? "sh",
    concurrency: parsePositiveInteger(flagOrEnv(flags.concurrency, "KK_CONCURRENCY"), "--concurrency") ?? 3,
    pendingTimeoutMs: parseDuration(flagOrEnv(flags.pendingTimeout, "KK_PENDING_TIMEOUT") ?? "15m", "--pending-timeout"),
    // Env only: how long the API server keeps one watch open before operator-backup resumes it.
    watchTimeoutSeconds: parsePositiveInteger(flagOrEnv(undefined, "KK_WATCH_TIMEOUT_SECONDS"), "KK_WATCH_TIMEOUT_SECONDS") ?? 300,
    runId,
    runIdGiven: givenRunId !== undefined,
    ...(clusterName ? { clusterName } : {}),
    jobPrefix,
    image: flagOrEnv(flags.image, "KK_IMAGE") ?? "kopia-k8s:0.1.0",
    ...(imagePullPolicy ? { imagePullPolicy } : {}),
    imagePullSecrets: imagePullSecrets(listFlagOrEnv(flags.imagePullSecret, "KK_IMAGE_PULL_SECRETS")),
    ...(userSecretName ? { userSecretName } : {}),
    jobLabels: keyValues(listFlagOrEnv(flags.jobLabel, "KK_JOB_LABELS"), "--job-label"),
    jobAnnotations: keyValues(listFlagOrEnv(flags.jobAnnotation, "KK_JOB_ANNOTATIONS"), "--job-annotation"),
    resources: {
      requests: { ...DEFAULT_REQUESTS, ...resourceList(flagOrEnv(flags.jobRequests, "KK_JOB_REQUESTS"), "--job-requests") },
      limits: { ...DEFAULT_LIMITS, ...resourceList(flagOrEnv(flags.jobLimits, "KK_JOB_LIMITS"), "--job-limits") },
    },
    cacheSizeMB: parsePositiveInteger(flagOrEnv(flags.cacheSizeMb, "KK_KOPIA_CACHE_SIZE_MB"), "--cache-size-mb") ?? 1024,
    backoffLimit: parseNonNegativeInteger(flagOrEnv(flags.backoffLimit, "KK_BACKOFF_LIMIT"), "--backoff-limit") ?? 0,
    // Under a day, so that a daily schedule never finds the previous night's run still going.
    jobDeadlineMs: parseDuration(flagOrEnv(flags.jobDeadline, "KK_JOB_DEADLINE") ?? "23h", "--job-deadline"),
    maintenance: flags.maintenance !== false && (maintenanceEnv === undefined || parseBoolean(maintenanceEnv, "KK_MAINTENANCE")),
    ...(maintenanceNamespace ? { maintenanceNamespace } : {}),
    dryRun: flags.dryRun === true,
    repository,
    secretData: { ...credentials, ...keyFiles.contents },
    secretEnvNames: Object.keys(credentials),
    keyFiles,
    ...(pushgatewayUrl ? { pushgatewayUrl } : {}),
    backupArgs,
  };
}

function parseHookOnError(value: string): HookOnError {
  const mode = HOOK_ON_ERROR.find((candidate) => candidate === value.trim().toLowerCase());
  if (!mode) throw usageError(`--hook-on-error: '${value}' must be abort or continue`);
  return mode;
}

function keyValues(items: string[], field: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items.flatMap((entry) => entry.split(","))) {
    const match = /^([\w./-]+)=(.*)$/.exec(item.trim());
    if (!match) throw usageError(`${field}: '${item}' must be key=value`);
    result[match[1]!] = match[2]!;
  }
  return result;
}

/** Small enough for a Raspberry Pi, enough for kopia on a homelab volume; each can be replaced. */
const DEFAULT_REQUESTS = { cpu: "100m", memory: "256Mi" };
const DEFAULT_LIMITS = { memory: "2Gi" };

function resourceList(value: string | undefined, field: string): Record<string, string> {
  if (!value) return {};
  const entries = keyValues([value], field);
  for (const [name, quantity] of Object.entries(entries)) {
    if (!/^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.test(quantity)) throw usageError(`${field}: '${name}=${quantity}' is not a quantity, e.g. cpu=100m or memory=256Mi`);
  }
  return entries;
}

/** What every Job of this run shares: image, repository, Secret, resources, labels, flags. */
export function jobSettingsFrom(settings: OperatorSettings): JobSettings {
  return {
    runId: settings.runId,
    ...(settings.clusterName ? { clusterName: settings.clusterName } : {}),
    image: settings.image,
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    imagePullSecrets: settings.imagePullSecrets,
    repositoryUrl: settings.keyFiles.repositoryUrl,
    ...(settings.repository.localPath ? { repositoryHostPath: settings.repository.localPath } : {}),
    ...(settings.userSecretName ? { userSecretName: settings.userSecretName } : {}),
    secretEnvNames: settings.secretEnvNames,
    ...(settings.keyFiles.names.length ? { keyFiles: { names: settings.keyFiles.names, env: settings.keyFiles.env, ...(settings.keyFiles.userSecretName ? { userSecretName: settings.keyFiles.userSecretName } : {}) } } : {}),
    resources: settings.resources,
    cacheSizeMB: settings.cacheSizeMB,
    labels: settings.jobLabels,
    annotations: settings.jobAnnotations,
    backupArgs: settings.backupArgs,
    logFormat: settings.logFormat,
    ...(settings.pushgatewayUrl ? { pushgatewayUrl: settings.pushgatewayUrl } : {}),
    backoffLimit: settings.backoffLimit,
    activeDeadlineSeconds: Math.ceil(settings.jobDeadlineMs / 1000),
  };
}
