import { afterEach, describe, expect, test } from "bun:test";
import { isolateEnv, usageErrorOf } from "../../support/unit.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobSettingsFrom, resolveOperatorSettings } from "../../../shared/operator/operator-backup-options.ts";
import { redact } from "../../../shared/log.ts";

// Every variable the operator reads; all are cleared before each test and restored afterwards.
const CLEARED = /^(KK_|KOPIA_|AWS_|B2_|AZURE_|RCLONE_|GOOGLE_APPLICATION_CREDENTIALS$)/;
isolateEnv(
  (name) => CLEARED.test(name),
  () => {
    process.env.KOPIA_PASSWORD = "unit-test-password";
    process.env.KK_REPOSITORY = "filesystem:///srv/kopia";
  },
);

/** Asserts a usage error (exit 2) whose message contains every fragment. */
function expectUsageError(flags: Record<string, unknown>, ...fragments: string[]) {
  const error = usageErrorOf(() => resolveOperatorSettings(flags));
  for (const fragment of fragments) expect(error.message).toContain(fragment);
}

describe("resolveOperatorSettings: defaults", () => {
  test("with only a repository and a password", () => {
    const settings = resolveOperatorSettings({});
    // Derived from the plan: one per node with volumes to back up, at least 3 (defaultConcurrency).
    expect(settings.concurrency).toBeUndefined();
    expect(settings.nodeConcurrency).toBe(3);
    expect(settings.volumesPerJob).toBe(10);
    expect(settings.pendingTimeoutMs).toBe(15 * 60_000);
    expect(settings.hookTimeoutMs).toBe(5 * 60_000);
    expect(settings.image).toBe("kopia-k8s:0.1.0");
    expect(settings.jobPrefix).toBe("kopia-backup");
    expect(settings.maintenance).toBe(true);
    expect(settings.dryRun).toBe(false);
    expect(settings.backoffLimit).toBe(0);
    expect(settings.jobDeadlineMs).toBe(23 * 3_600_000);
    expect(settings.namespaces).toEqual([]);
    expect(settings.preBackupAnnotation).toBe("kopia-k8s.io/pre-backup");
    expect(settings.postBackupAnnotation).toBe("kopia-k8s.io/post-backup");
    expect(settings.logFormat).toBe("text");
    expect(settings.jobLabels).toEqual({});
    expect(settings.jobAnnotations).toEqual({});
    expect(settings.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "2Gi" } });
    expect(settings.cacheSizeMB).toBe(1024);
    expect(settings.backupArgs).toEqual([]);
    expect(settings.runId).toMatch(/^[0-9a-f]{8}$/);
    expect(settings.repository).toEqual({ url: "filesystem:///srv/kopia", kind: "filesystem", storageArgs: ["filesystem", "--path=/srv/kopia"], localPath: "/srv/kopia", keyFiles: [] });
    expect(settings.secretData).toEqual({ KOPIA_PASSWORD: "unit-test-password" });
    for (const absent of ["selector", "imagePullPolicy", "userSecretName", "maintenanceNamespace", "pushgatewayUrl"]) {
      expect(absent in settings).toBe(false);
    }
  });

  test("cac's default maintenance: true keeps maintenance on; --no-maintenance turns it off", () => {
    expect(resolveOperatorSettings({ maintenance: true }).maintenance).toBe(true);
    expect(resolveOperatorSettings({ maintenance: false }).maintenance).toBe(false);
  });
});

describe("resolveOperatorSettings: Jobs per node and volumes per Job", () => {
  test("--node-concurrency and --volumes-per-job, or KK_NODE_CONCURRENCY and KK_VOLUMES_PER_JOB", () => {
    expect(resolveOperatorSettings({ nodeConcurrency: "1", volumesPerJob: "50" })).toMatchObject({ nodeConcurrency: 1, volumesPerJob: 50 });
    process.env.KK_NODE_CONCURRENCY = "2";
    process.env.KK_VOLUMES_PER_JOB = "10";
    expect(resolveOperatorSettings({})).toMatchObject({ nodeConcurrency: 2, volumesPerJob: 10 });
  });

  test("more volumes per Job than one Job reports on, or none, is a usage error", () => {
    expectUsageError({ volumesPerJob: "51" }, "--volumes-per-job: 51 is more than 50", "give at most 50");
    expectUsageError({ volumesPerJob: "0" }, "--volumes-per-job");
    expectUsageError({ nodeConcurrency: "0" }, "--node-concurrency");
  });
});

describe("resolveOperatorSettings: flags and environment", () => {
  test("flags win over the environment", () => {
    process.env.KK_CONCURRENCY = "9";
    process.env.KK_IMAGE = "from-env:1";
    const settings = resolveOperatorSettings({ concurrency: "5", image: "from-flag:2" });
    expect(settings.concurrency).toBe(5);
    expect(settings.image).toBe("from-flag:2");
  });

  test("environment fallbacks", () => {
    process.env.KK_CONCURRENCY = "7";
    process.env.KK_UUID = "nightly-2025";
    process.env.KK_PRE_BACKUP_ANNOTATION = "kopia.earthnet.ch/prebackup";
    process.env.KK_POST_BACKUP_ANNOTATION = "kopia.earthnet.ch/postbackup";
    process.env.KK_NAMESPACES = "apps, db ,,monitoring";
    process.env.KK_PENDING_TIMEOUT = "2m";
    process.env.KK_HOOK_TIMEOUT = "45s";
    process.env.KK_JOB_PREFIX = "kk";
    process.env.KK_MAINTENANCE = "false";
    process.env.KK_SECRET = "kopia-creds";
    process.env.KK_SELECTOR = "app=db";
    const settings = resolveOperatorSettings({ maintenance: true });
    expect(settings.concurrency).toBe(7);
    expect(settings.runId).toBe("nightly-2025");
    expect(settings.preBackupAnnotation).toBe("kopia.earthnet.ch/prebackup");
    expect(settings.postBackupAnnotation).toBe("kopia.earthnet.ch/postbackup");
    expect(settings.namespaces).toEqual(["apps", "db", "monitoring"]);
    expect(settings.pendingTimeoutMs).toBe(120_000);
    expect(settings.hookTimeoutMs).toBe(45_000);
    expect(settings.jobPrefix).toBe("kk");
    expect(settings.maintenance).toBe(false);
    expect(settings.userSecretName).toBe("kopia-creds");
    expect(settings.selector).toBe("app=db");
  });

  test("image pull secrets: repeated flags, or comma-separated in KK_IMAGE_PULL_SECRETS; none by default", () => {
    expect(resolveOperatorSettings({}).imagePullSecrets).toEqual([]);
    expect(resolveOperatorSettings({ imagePullSecret: ["registry-lan", "mirror.example"] }).imagePullSecrets).toEqual(["registry-lan", "mirror.example"]);
    process.env.KK_IMAGE_PULL_SECRETS = "registry-lan, mirror";
    expect(resolveOperatorSettings({}).imagePullSecrets).toEqual(["registry-lan", "mirror"]);
    expectUsageError({ imagePullSecret: "Registry_Lan" }, "--image-pull-secret: 'Registry_Lan' is not a Secret name");
  });

  test("repeated and comma-separated --namespace flags", () => {
    expect(resolveOperatorSettings({ namespace: ["apps", "db,web"] }).namespaces).toEqual(["apps", "db", "web"]);
    expect(resolveOperatorSettings({ namespace: "single" }).namespaces).toEqual(["single"]);
  });

  test("labels, annotations, resources, pull policy and backup args", () => {
    const settings = resolveOperatorSettings({
      jobLabel: ["team=platform", "tier=backup"],
      jobAnnotation: "sidecar.istio.io/inject=false",
      jobRequests: "cpu=250m",
      jobLimits: "memory=1Gi,cpu=2",
      cacheSizeMb: "300",
      imagePullPolicy: "Never",
      tag: ["cluster:home", "env:prod"],
      keepDaily: "7",
      backoffLimit: "2",
      jobDeadline: "90m",
      dryRun: true,
    });
    expect(settings.jobDeadlineMs).toBe(90 * 60_000);
    expect(settings.jobLabels).toEqual({ team: "platform", tier: "backup" });
    expect(settings.jobAnnotations).toEqual({ "sidecar.istio.io/inject": "false" });
    // each given quantity replaces its default; the others stay
    expect(settings.resources).toEqual({ requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi", cpu: "2" } });
    expect(settings.cacheSizeMB).toBe(300);
    expect(settings.imagePullPolicy).toBe("Never");
    expect(settings.backupArgs).toEqual(["--tag=cluster:home", "--tag=env:prod", "--keep-daily=7"]);
    expect(settings.backoffLimit).toBe(2);
    expect(settings.dryRun).toBe(true);
  });

  test("the seed's KK_BUCKET + KK_ENDPOINT give an s3 repository", () => {
    delete process.env.KK_REPOSITORY;
    process.env.KK_BUCKET = "backups";
    process.env.KK_ENDPOINT = "http://minio:9000";
    const settings = resolveOperatorSettings({});
    expect(settings.repository.url).toBe("s3://backups?endpoint=minio%3A9000&insecure=true");
    expect(settings.repository.storageArgs).toEqual(["s3", "--bucket=backups", "--endpoint=minio:9000", "--disable-tls"]);
  });

  test("--repository wins over KK_REPOSITORY and the seed variables", () => {
    process.env.KK_BUCKET = "seed";
    process.env.KK_ENDPOINT = "https://s3.example";
    const settings = resolveOperatorSettings({ repository: "s3://flag-bucket?endpoint=h:9000" });
    expect(settings.repository.url).toBe("s3://flag-bucket?endpoint=h:9000");
  });
});

describe("resolveOperatorSettings: secret data", () => {
  test("the password and the storage secrets present in the environment, nothing else", () => {
    process.env.AWS_ACCESS_KEY_ID = "AKIAEXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "aws-secret";
    process.env.AWS_REGION = "eu-central-1";
    process.env.KK_PUSHGATEWAY_URL = "http://pushgateway:9091";
    const settings = resolveOperatorSettings({});
    expect(settings.secretData).toEqual({ KOPIA_PASSWORD: "unit-test-password", AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "aws-secret" });
    expect(settings.pushgatewayUrl).toBe("http://pushgateway:9091");
  });

  test("the seed's KK_ENCRYPTION_PASSWORD becomes KOPIA_PASSWORD", () => {
    delete process.env.KOPIA_PASSWORD;
    process.env.KK_ENCRYPTION_PASSWORD = "seed-password";
    expect(resolveOperatorSettings({}).secretData).toEqual({ KOPIA_PASSWORD: "seed-password" });
  });

  test("with --secret the operator needs no password of its own and hands none on", () => {
    delete process.env.KOPIA_PASSWORD;
    process.env.AWS_SECRET_ACCESS_KEY = "aws-secret";
    const settings = resolveOperatorSettings({ secret: "kopia-credentials" });
    expect(settings.userSecretName).toBe("kopia-credentials");
    expect(settings.secretData).toEqual({});
  });

  test("without --secret a missing password is still a usage error", () => {
    delete process.env.KOPIA_PASSWORD;
    expectUsageError({}, "password: none given");
  });
});

describe("resolveOperatorSettings: key files reach the Jobs", () => {
  const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
  const KNOWN_HOSTS = "[nas]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample\n";
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const files = () => {
    const dir = mkdtempSync(join(tmpdir(), "kk-unit-keys-"));
    made.push(dir);
    const write = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    return { key: write("id_ed25519", KEY), knownHosts: write("known_hosts", KNOWN_HOSTS), write };
  };
  const MOUNTED_SFTP = "sftp://backup@nas:2222/srv/kopia?keyfile=/kopia-keys/keyfile&known-hosts=/kopia-keys/known-hosts";

  test("sftp: the files the URL names are copied into the per-Job Secret, as files, not variables; the Jobs' URL names the mounted copies", () => {
    const { key, knownHosts } = files();
    const settings = resolveOperatorSettings({ repository: `sftp://backup@nas:2222/srv/kopia?keyfile=${key}&known-hosts=${knownHosts}` });
    expect(settings.secretData).toEqual({ KOPIA_PASSWORD: "unit-test-password", keyfile: KEY, "known-hosts": KNOWN_HOSTS });
    expect(settings.secretEnvNames).toEqual(["KOPIA_PASSWORD"]);
    const job = jobSettingsFrom(settings);
    expect(job.repositoryUrl).toBe(MOUNTED_SFTP);
    expect(job.keyFiles).toEqual({ names: ["keyfile", "known-hosts"], env: {} });
    expect(job.secretEnvNames).toEqual(["KOPIA_PASSWORD"]);
    expect(JSON.stringify(job)).not.toContain("OPENSSH PRIVATE KEY");
  });

  test("sftp: the files may come from KK_SFTP_KEYFILE and KK_SFTP_KNOWN_HOSTS; the private key is masked in every log line, also quoted", () => {
    const { key, knownHosts } = files();
    process.env.KK_SFTP_KEYFILE = key;
    process.env.KK_SFTP_KNOWN_HOSTS = knownHosts;
    const settings = resolveOperatorSettings({ repository: "sftp://backup@nas:2222/srv/kopia" });
    expect(settings.secretData.keyfile).toBe(KEY);
    expect(jobSettingsFrom(settings).repositoryUrl).toBe(MOUNTED_SFTP);
    expect(redact(`read ${KEY}`)).toBe("read ***");
    expect(redact(`read ${JSON.stringify(KEY)}`)).not.toContain("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
  });

  test("--key-files-secret: the user's Secret is mounted; no local file is read, the URL's file parameters are replaced", () => {
    const settings = resolveOperatorSettings({ repository: "sftp://backup@nas:2222/srv/kopia?keyfile=/nowhere/id", keyFilesSecret: "nas-keys" });
    expect(settings.secretData).toEqual({ KOPIA_PASSWORD: "unit-test-password" });
    const job = jobSettingsFrom(settings);
    expect(job.repositoryUrl).toBe(MOUNTED_SFTP);
    expect(job.keyFiles).toEqual({ names: ["keyfile", "known-hosts"], env: {}, userSecretName: "nas-keys" });
    process.env.KK_KEY_FILES_SECRET = "gcs-key";
    expect(jobSettingsFrom(resolveOperatorSettings({ repository: "gcs://b/p" })).keyFiles).toEqual({ names: ["credentials-file"], env: {}, userSecretName: "gcs-key" });
  });

  test("--key-files-secret with --secret: nothing of the Jobs comes from here, though the URL names local files", () => {
    delete process.env.KOPIA_PASSWORD;
    const settings = resolveOperatorSettings({ repository: "sftp://backup@nas/srv/kopia?keyfile=/home/me/id&known-hosts=/home/me/kh", keyFilesSecret: "nas-keys", secret: "kopia-credentials" });
    expect(settings.secretData).toEqual({});
    expect(jobSettingsFrom(settings).keyFiles!.userSecretName).toBe("nas-keys");
  });

  test("gcs: a credentials file (also from GOOGLE_APPLICATION_CREDENTIALS) is copied; without one (workload identity) nothing is mounted", () => {
    const { write } = files();
    process.env.GOOGLE_APPLICATION_CREDENTIALS = write("sa.json", '{"type":"service_account"}');
    const settings = resolveOperatorSettings({ repository: "gcs://bucket/prefix" });
    expect(settings.secretData["credentials-file"]).toBe('{"type":"service_account"}');
    expect(jobSettingsFrom(settings).repositoryUrl).toBe("gcs://bucket/prefix?credentials-file=/kopia-keys/credentials-file");
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    const identity = jobSettingsFrom(resolveOperatorSettings({ repository: "gcs://bucket/prefix" }));
    expect(identity.keyFiles).toBeUndefined();
    expect(identity.repositoryUrl).toBe("gcs://bucket/prefix");
  });

  test("rclone: RCLONE_CONFIG_* variables join the per-Job Secret's environment, the file RCLONE_CONFIG names its files", () => {
    const { write } = files();
    process.env.RCLONE_CONFIG_NAS_TYPE = "webdav";
    process.env.RCLONE_CONFIG_NAS_PASS = "obscured-pass";
    process.env.RCLONE_CONFIG = write("rclone.conf", "[nas]\ntype = webdav\n");
    const settings = resolveOperatorSettings({ repository: "rclone:nas:kopia" });
    expect(settings.secretData).toEqual({ KOPIA_PASSWORD: "unit-test-password", RCLONE_CONFIG_NAS_TYPE: "webdav", RCLONE_CONFIG_NAS_PASS: "obscured-pass", "rclone-config": "[nas]\ntype = webdav\n" });
    expect(settings.secretEnvNames.sort()).toEqual(["KOPIA_PASSWORD", "RCLONE_CONFIG_NAS_PASS", "RCLONE_CONFIG_NAS_TYPE"]);
    expect(jobSettingsFrom(settings).keyFiles).toEqual({ names: ["rclone-config"], env: { RCLONE_CONFIG: "/kopia-keys/rclone-config" } });
    // Another backend's Jobs get no rclone variable.
    delete process.env.RCLONE_CONFIG;
    expect(resolveOperatorSettings({ repository: "s3://b" }).secretData).toEqual({ KOPIA_PASSWORD: "unit-test-password" });
  });

  test.each<[string, Record<string, unknown>, string[]]>([
    ["sftp without known-hosts", { repository: "sftp://backup@nas/srv/kopia?keyfile=/k/id" }, ["--repository: sftp in the Jobs needs keyfile= and known-hosts=", "--key-files-secret"]],
    ["sftp without any file", { repository: "sftp://backup@nas/srv/kopia" }, ["--repository: sftp in the Jobs needs"]],
    ["a key file that cannot be read", { repository: "sftp://backup@nas/srv/kopia?keyfile=/nonexistent/id&known-hosts=/nonexistent/kh" }, ["--repository: cannot read the keyfile file '/nonexistent/id' (ENOENT)"]],
    ["local key files with --secret", { repository: "gcs://b?credentials-file=/k.json", secret: "creds" }, ["--secret: the gcs key files (credentials-file)", "--key-files-secret"]],
    ["--key-files-secret for s3", { repository: "s3://b", keyFilesSecret: "keys" }, ["--key-files-secret: a s3 repository reads no key files"]],
    ["--key-files-secret not a name", { repository: "sftp://b@nas/k", keyFilesSecret: "Nas_Keys" }, ["--key-files-secret: 'Nas_Keys' is not a Secret name"]],
  ])("%s: usage error up front", (_, flags, fragments) => {
    expectUsageError(flags, ...fragments);
  });

  test("a key file that is not text: usage error", () => {
    const { knownHosts, write } = files();
    const binary = write("id_binary", "");
    writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x00, 0xc3]));
    expectUsageError({ repository: `sftp://b@nas/k?keyfile=${binary}&known-hosts=${knownHosts}` }, "cannot read the keyfile file", "not UTF-8 text");
  });
});

describe("resolveOperatorSettings: bad input (exit 2, naming the flag)", () => {
  test.each<[string, Record<string, unknown>, string[]]>([
    ["--concurrency 0", { concurrency: "0" }, ["--concurrency", "at least 1"]],
    ["--concurrency abc", { concurrency: "abc" }, ["--concurrency", "'abc'"]],
    ["--pending-timeout 15", { pendingTimeout: "15" }, ["--pending-timeout", "'15'"]],
    ["--hook-timeout 300", { hookTimeout: "300" }, ["--hook-timeout", "'300'"]],
    ["--uuid upper case", { uuid: "Nightly" }, ["--uuid", "'Nightly'"]],
    ["--uuid of 37 characters", { uuid: "a".repeat(37) }, ["--uuid", "36"]],
    ["--uuid with a dot", { uuid: "run.1" }, ["--uuid"]],
    ["--cluster-name upper case", { clusterName: "Homelab" }, ["--cluster-name", "'Homelab'"]],
    ["--cluster-name with a slash", { clusterName: "home/lab" }, ["--cluster-name", "'home/lab'"]],
    ["--cluster-name ending in a dot", { clusterName: "homelab." }, ["--cluster-name"]],
    ["--job-prefix of 17 characters", { jobPrefix: "p".repeat(17) }, ["--job-prefix", "16"]],
    ["--job-prefix upper case", { jobPrefix: "Kopia" }, ["--job-prefix", "'Kopia'"]],
    ["--job-label without '='", { jobLabel: "team" }, ["--job-label", "'team'", "key=value"]],
    ["--job-annotation without '='", { jobAnnotation: ["ok=1", "broken"] }, ["--job-annotation", "'broken'"]],
    ["--job-requests bad quantity", { jobRequests: "cpu=lots" }, ["--job-requests", "cpu=lots", "not a quantity"]],
    ["--job-limits bad quantity", { jobLimits: "memory=1GB" }, ["--job-limits", "memory=1GB"]],
    ["--image-pull-policy bad", { imagePullPolicy: "always" }, ["--image-pull-policy", "'always'"]],
    ["--tag without ':'", { tag: "cluster" }, ["--tag", "'cluster'"]],
    ["--backoff-limit negative", { backoffLimit: "-1" }, ["--backoff-limit"]],
  ])("%s", (_label, flags, fragments) => {
    expectUsageError(flags, ...fragments);
  });

  test("KK_CONCURRENCY=0 is refused naming --concurrency", () => {
    process.env.KK_CONCURRENCY = "0";
    expectUsageError({}, "--concurrency");
  });

  test("KK_MAINTENANCE that is not a boolean", () => {
    process.env.KK_MAINTENANCE = "sometimes";
    expectUsageError({}, "KK_MAINTENANCE", "'sometimes'");
  });

  test("no repository", () => {
    delete process.env.KK_REPOSITORY;
    expectUsageError({}, "--repository", "no repository given");
  });

  test("no password", () => {
    delete process.env.KOPIA_PASSWORD;
    expectUsageError({}, "password", "KOPIA_PASSWORD");
  });

  test("two different passwords", () => {
    process.env.KK_ENCRYPTION_PASSWORD = "other";
    expectUsageError({}, "KOPIA_PASSWORD and KK_ENCRYPTION_PASSWORD differ");
  });
});
