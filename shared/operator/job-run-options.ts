import type { V1ResourceRequirements } from "@kubernetes/client-node";
import { usageError } from "../exit-codes.ts";
import { duration, flagKey, list, oneOf, positiveInteger, text, valueOption, wholeNumber, type Option, type Settings } from "../option-table.ts";
import { flagOrEnv } from "../options.ts";
import { resolvePassword } from "../password.ts";
import type { Repository } from "../repository.ts";
import type { JobSettings } from "./job-spec.ts";
import { resolveJobKeyFiles } from "./key-files.ts";
import { isDnsLabel, isSecretName, newRunId } from "./names.ts";

export const dnsLabel = (maxLength: number) =>
  valueOption((value, field) => {
    if (!isDnsLabel(value) || value.length > maxLength) throw usageError(`${field}: '${value}' must be lower-case letters, digits and '-', at most ${maxLength} characters`);
    return value;
  });

const clusterName = valueOption((value, field) => {
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(value)) throw usageError(`${field}: '${value}' must be lower-case letters, digits, '-' and '.', at most 63 characters, e.g. homelab`);
  return value;
});

const pullPolicy = oneOf(["Always", "IfNotPresent", "Never"] as const);

/** The options of every operator that runs kopia-k8s Jobs (operator-backup, operator-restore): image, Secret, resources, labels, run id. */
export const jobRunOptions = {
  pendingTimeoutMs: duration({ flag: "--pending-timeout <duration>", env: "KK_PENDING_TIMEOUT", help: "Delete a Job whose pod stays Pending this long", default: "15m" }),
  /** Env only: how long the API server keeps one watch open before the operator resumes it. */
  watchTimeoutSeconds: positiveInteger({ env: "KK_WATCH_TIMEOUT_SECONDS", default: "300" }),
  clusterName: clusterName({ flag: "--cluster-name <name>", env: "KK_CLUSTER_NAME", help: "Part of every Kopia source (pvc@namespace.<name>) when several clusters write one repository" }),
  givenRunId: dnsLabel(36)({ flag: "--uuid <id>", env: "KK_UUID", help: "Run id used in Job names and labels", defaultHelp: "random" }),
  image: text({ flag: "--image <image>", env: "KK_IMAGE", help: "Image with kopia-backup and kopia", default: "kopia-k8s:0.1.0" }),
  imagePullPolicy: pullPolicy({ flag: "--image-pull-policy <policy>", env: "KK_IMAGE_PULL_POLICY", help: "Always, IfNotPresent or Never" }),
  userSecretName: text({ flag: "--secret <name>", env: "KK_SECRET", help: "Use this existing Secret (in every PVC's namespace) instead of a per-Job Secret" }),
  keyFilesSecret: text({
    flag: "--key-files-secret <name>",
    env: "KK_KEY_FILES_SECRET",
    help: "Existing Secret (in every PVC's namespace and the maintenance one) with the repository's key files: keyfile and known-hosts (sftp), credentials-file (gcs), rclone-config (rclone)",
    defaultHelp: "the files the repository names, copied into the per-Job Secret",
  }),
  imagePullSecrets: list({
    flag: "--image-pull-secret <name>",
    env: "KK_IMAGE_PULL_SECRETS",
    help: "Secret for a private registry, in every PVC's namespace; repeatable",
    parse: (name) => {
      if (!isSecretName(name)) throw usageError(`--image-pull-secret: '${name}' is not a Secret name (lower-case letters, digits, '-' and '.')`);
      return name;
    },
  }),
  jobLabels: keyValues({ flag: "--job-label <key=value>", env: "KK_JOB_LABELS", help: "Extra label on Jobs and their pods; repeatable" }),
  jobAnnotations: keyValues({ flag: "--job-annotation <key=value>", env: "KK_JOB_ANNOTATIONS", help: "Extra annotation on Jobs and their pods, e.g. sidecar.istio.io/inject=false; repeatable" }),
  /** Small enough for a Raspberry Pi, enough for kopia on a homelab volume; each can be replaced. */
  jobRequests: resourceList({ flag: "--job-requests <list>", env: "KK_JOB_REQUESTS", help: "Container requests, each replacing its default", default: "cpu=100m,memory=256Mi" }),
  jobLimits: resourceList({ flag: "--job-limits <list>", env: "KK_JOB_LIMITS", help: "Container limits, each replacing its default", default: "memory=2Gi" }),
  cacheSizeMB: positiveInteger({ flag: "--cache-size-mb <n>", env: "KK_KOPIA_CACHE_SIZE_MB", help: "kopia's cache in each Job, MiB; the Job's state volume is limited to twice that plus 1 GiB", default: "1024" }),
  backoffLimit: wholeNumber({ flag: "--backoff-limit <n>", env: "KK_BACKOFF_LIMIT", help: "Retries of a failed backup Job", default: "0" }),
};

/** Storage secrets handed to the Jobs through their Secret when present in this environment. */
const STORAGE_SECRET_ENV = [
  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "B2_KEY_ID", "B2_KEY",
  "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "KOPIA_WEBDAV_USERNAME", "KOPIA_WEBDAV_PASSWORD",
];

/** The password and the storage secrets of this environment, for the per-Job Secret; rclone's remotes too. */
function credentialsFromEnvironment(repository: Repository): Record<string, string> {
  const secretData: Record<string, string> = { KOPIA_PASSWORD: resolvePassword() };
  for (const name of STORAGE_SECRET_ENV) if (process.env[name]) secretData[name] = process.env[name]!;
  if (repository.kind === "rclone") {
    for (const [name, value] of Object.entries(process.env)) if (name.startsWith("RCLONE_CONFIG_") && value) secretData[name] = value;
  }
  return secretData;
}

/** What follows from the Job options: the run id, the Jobs' resources, the per-Job Secret's contents and the key files. */
export function resolveJobRun(options: Settings<typeof jobRunOptions> & { repository: Repository }) {
  const keyFiles = resolveJobKeyFiles(options.repository, options.keyFilesSecret, options.userSecretName);
  // With --secret the Jobs read the user's own Secret: this environment needs no credentials.
  const credentials = options.userSecretName ? {} : credentialsFromEnvironment(options.repository);
  return {
    runId: options.givenRunId ?? newRunId(),
    resources: { requests: options.jobRequests, limits: options.jobLimits } satisfies V1ResourceRequirements,
    /** What the per-Job Secret holds: the password and the storage secrets of this environment, then the key files. */
    secretData: { ...credentials, ...keyFiles.contents } as Record<string, string>,
    /** The variables of the per-Job Secret (its other keys are key files). */
    secretEnvNames: Object.keys(credentials),
    keyFiles,
  };
}

/** `key=value` items, repeatable or comma-separated. */
function keyValues(spec: { flag: string; env: string; help: string }): Option<Record<string, string>> {
  const items = list(spec);
  return { ...items, read: (flags) => keyValueRecord(items.read(flags), spec.flag.split(" ")[0]!) };
}

function keyValueRecord(items: string[], field: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items) {
    const match = /^([\w./-]+)=(.*)$/.exec(item.trim());
    if (!match) throw usageError(`${field}: '${item}' must be key=value`);
    result[match[1]!] = match[2]!;
  }
  return result;
}

/** Resource quantities, each given one replacing its default. */
function resourceList(spec: { flag: string; env: string; help: string; default: string }): Option<Record<string, string>> {
  const field = spec.flag.split(" ")[0]!;
  const parse = (value: string) => {
    const entries = keyValueRecord(value.split(","), field);
    for (const [name, quantity] of Object.entries(entries)) {
      if (!/^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.test(quantity)) throw usageError(`${field}: '${name}=${quantity}' is not a quantity, e.g. cpu=100m or memory=256Mi`);
    }
    return entries;
  };
  return {
    ...spec,
    read: (flags) => {
      const given = flagOrEnv(flags[flagKey(spec.flag)], spec.env);
      return { ...parse(spec.default), ...(given ? parse(given) : {}) };
    },
  };
}

/** What jobSettingsFrom reads: the Job options as resolved, and each operator's own few. */
export type JobRunSettings = Settings<typeof jobRunOptions> & ReturnType<typeof resolveJobRun> & {
  repository: Repository;
  logFormat: "text" | "json";
  pushgatewayUrl?: string;
  jobDeadlineMs: number;
  /** Extra kopia-backup flags; none for a restore. */
  backupArgs: string[];
};

/** What every Job of this run shares: image, repository, Secret, resources, labels, flags. */
export function jobSettingsFrom(settings: JobRunSettings): JobSettings {
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
