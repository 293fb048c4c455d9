/**
 * operator-backup's Jobs against real storage servers on 127.0.0.1: each Job's real command
 * (kopia-maintenance --init, kopia-backup, kopia-maintenance) runs on this host with the pod's
 * args, env, Secret values and Secret volumes as a kubelet would give them (support/job-runner.ts).
 * sftp (OpenSSH's sshd) and gcs (fake-gcs-server) read key files, which reach the Jobs through a
 * per-Job Secret copied from operator-backup's own files or through --key-files-secret; rclone
 * reads its config file the same way; azure's keys travel in the per-Job Secret's variables.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startAzurite } from "../support/azurite.ts";
import { rawKopiaOn, type BackendAccess } from "../support/backend-runs.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { startFakeGcs } from "../support/fake-gcs.ts";
import { runOperatorWithHostJobs, type HostRun, type HostRunOptions } from "../support/job-runner.ts";
import { createAppPod } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";
import { startSshd, type Sshd } from "../support/sshd.ts";
import { startWebdav } from "../support/webdav.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const NON_ROOT = 65532;

interface JobRun {
  namespace: string;
  volume: string;
  run: Awaited<ReturnType<typeof runScript>>;
  runs: HostRun[];
}

/**
 * One PVC with files, an app pod mounting it, and operator-backup with maintenance; every Job of
 * the run is played on this host. `prepare` may put things in the namespace first (a Secret).
 */
async function backUpThroughJobs(repository: string, env: Record<string, string>, options: { args?: string[]; host?: HostRunOptions; prepare?: (namespace: string) => Promise<void> } = {}): Promise<JobRun> {
  const namespace = await cluster.freshNamespace("jobbackend");
  const volume = await cluster.createBoundPvc(namespace, "files", { node: cluster.nodes[0]! });
  await makeCorpus(volume.hostPath, { largeFileMiB: 2 });
  await createAppPod(cluster, namespace, "app", ["files"]);
  await options.prepare?.(namespace);
  const { run, runs } = await runOperatorWithHostJobs(cluster, namespace, ["--repository", repository, ...(options.args ?? [])], env, options.host);
  return { namespace, volume: volume.hostPath, run, runs };
}

/** init, backup and maintenance each ran once and succeeded; the snapshot restores to the volume's files. */
async function expectBackedUpAndRestorable(job: JobRun, access: BackendAccess) {
  expect(job.run.exitCode, job.run.output).toBe(0);
  expect(job.runs.map((run) => run.role).sort()).toEqual(["backup", "init", "maintenance"]);
  for (const run of job.runs) expect(run.result.exitCode, `${run.role}: ${run.result.output}`).toBe(0);
  const raw = await rawKopiaOn(access);
  const snapshots = await raw.snapshots(`files@${job.namespace}:/data`);
  expect(snapshots).toHaveLength(1);
  const restored = join(await tempDir(), "restored");
  await raw.restore(snapshots[0]!.id, restored);
  expect(await describeTree(restored)).toEqual(await describeTree(job.volume));
}

/** The Job a run's pod belongs to, whose name its per-Job Secret has. */
const jobOf = (run: HostRun) => run.spec.metadata!.labels!["batch.kubernetes.io/job-name"]!;

const keyFilesVolume = (pod: V1Pod) => pod.spec!.volumes!.find((volume) => volume.name === "key-files");

/**
 * Each Job mounted the files read-only from `secretName(run)` (only the named keys, owner-read-only),
 * as kopia found them: the backup's root-owned 0400, init's and maintenance's group-readable by their
 * fsGroup. Its URL named the mounted files; no variable held a file's text, nor did the Job spec.
 */
async function expectKeyFilesMounted(runs: HostRun[], files: Record<string, string>, secretName: (run: HostRun) => string) {
  for (const run of runs) {
    const volume = keyFilesVolume(run.spec)!;
    expect(volume.secret!.secretName).toBe(secretName(run));
    expect(volume.secret!.items).toEqual(Object.keys(files).map((key) => ({ key, path: key, mode: 0o400 })));
    expect(run.spec.spec!.containers[0]!.volumeMounts).toContainEqual({ name: "key-files", mountPath: "/kopia-keys", readOnly: true });
    const folder = run.secretMounts["/kopia-keys"]!;
    for (const [name, text] of Object.entries(files)) {
      const file = join(folder, name);
      expect(await readFile(file, "utf8")).toBe(text);
      const { mode, gid } = await stat(file);
      if (run.role === "backup") expect(mode & 0o777).toBe(0o400);
      else expect({ mode: mode & 0o777, gid, fsGroup: run.spec.spec!.securityContext?.fsGroup }).toEqual({ mode: 0o440, gid: NON_ROOT, fsGroup: NON_ROOT });
      for (const value of Object.values(run.env)) expect(value.includes(text.trim())).toBe(false);
      expect(JSON.stringify(run.spec)).not.toContain(text.trim());
    }
  }
}

describe("sftp:// from the Jobs, against a real OpenSSH sshd", () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  const base = (path: string) => `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.repositories}/${path}`;
  const access = (path: string): BackendAccess => ({
    repository: base(path),
    storageArgs: ["sftp", "--host=127.0.0.1", `--port=${sshd.port}`, `--username=${sshd.user}`, `--path=${sshd.repositories}/${path}`, `--keyfile=${sshd.clientKey}`, `--known-hosts=${sshd.knownHosts}`],
    env: {},
  });
  const keyTexts = async (knownHosts = sshd.knownHosts) => ({ keyfile: await sshd.clientKeyText(), "known-hosts": await readFile(knownHosts, "utf8") });

  test("key and known_hosts copied from operator-backup's files into each Job's Secret: init creates the repository, the backup restores, maintenance runs; the key in no log at --debug", async () => {
    const job = await backUpThroughJobs(`${base("copied")}?keyfile=${sshd.clientKey}&known-hosts=${sshd.knownHosts}`, {}, { args: ["--debug"] });
    await expectBackedUpAndRestorable(job, access("copied"));
    await expectKeyFilesMounted(job.runs, await keyTexts(), jobOf);
    const keyLine = (await sshd.clientKeyText()).split("\n")[1]!;
    expect(job.run.output).toContain("created Job"); // --debug really logged more
    expect(job.run.output).not.toContain(keyLine);
    for (const run of job.runs) {
      expect(run.spec.spec!.containers[0]!.env).toContainEqual({ name: "KK_REPOSITORY", value: `${base("copied")}?keyfile=/kopia-keys/keyfile&known-hosts=/kopia-keys/known-hosts` });
      expect(run.result.output).not.toContain(keyLine);
    }
  });

  test("--key-files-secret: the files come from the user's Secret; operator-backup has none of them and a URL without file parameters", async () => {
    const job = await backUpThroughJobs(base("user-secret"), {}, {
      args: ["--key-files-secret", "nas-keys"],
      prepare: async (namespace) => {
        await cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name: "nas-keys" }, stringData: await keyTexts() } });
      },
    });
    await expectBackedUpAndRestorable(job, access("user-secret"));
    await expectKeyFilesMounted(job.runs, await keyTexts(), () => "nas-keys");
  });

  test("a known_hosts naming another host key reaches the init Job and is checked there: exit 5 before any backup, nothing written", async () => {
    const foreign = await sshd.foreignKnownHosts();
    const job = await backUpThroughJobs(`${base("mitm")}?keyfile=${sshd.clientKey}&known-hosts=${foreign}`, {});
    expect(job.run.exitCode, job.run.output).toBe(5);
    expect(job.run.output).toContain("the repository Job failed, so no hook ran and no backup started");
    expect(job.runs.map((run) => run.role)).toEqual(["init"]);
    expect(job.runs[0]!.result.output).toContain("knownhosts: key mismatch");
    await expectKeyFilesMounted(job.runs, await keyTexts(foreign), jobOf);
    expect(await readdir(sshd.repositories)).not.toContain("mitm");
  });
});

/** Every kopia connection config under a Job's config folder, parsed. */
async function kopiaConfigs(run: HostRun): Promise<{ storage: { type: string; config: Record<string, unknown> } }[]> {
  const folder = run.env.KK_CONFIG_PATH!;
  const files = (await readdir(folder, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile() && !entry.name.endsWith(".kopia-k8s"));
  const texts = await Promise.all(files.map((entry) => readFile(join(entry.parentPath, entry.name), "utf8")));
  return texts.flatMap((text) => {
    try {
      const parsed = JSON.parse(text);
      return parsed.storage ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

describe("gcs:// from the Jobs, against a real fake-gcs-server", () => {
  test("the credentials file copied into each Job's Secret is the one kopia connects with (the emulator checks no credential)", async () => {
    const gcs = await startFakeGcs();
    await gcs.createBucket("backups");
    const credentialsFile = join(await tempDir(), "service-account.json");
    const credentials = JSON.stringify({ type: "service_account", client_email: "kopia@example.iam.gserviceaccount.com", private_key: `gcs-private-key-${crypto.randomUUID()}` });
    await writeFile(credentialsFile, credentials, { mode: 0o600 });
    // STORAGE_EMULATOR_HOST stands for the cluster's way to Google: the Jobs get it from the host.
    const job = await backUpThroughJobs(`gcs://backups/jobs?credentials-file=${credentialsFile}`, {}, { host: { env: gcs.env } });
    await expectBackedUpAndRestorable(job, { repository: "gcs://backups/jobs", storageArgs: ["gcs", "--bucket=backups", "--prefix=jobs/", `--credentials-file=${credentialsFile}`], env: gcs.env });
    await expectKeyFilesMounted(job.runs, { "credentials-file": credentials }, jobOf);
    for (const run of job.runs) {
      const configs = await kopiaConfigs(run);
      expect(configs.length, run.role).toBeGreaterThan(0);
      for (const config of configs) expect(config.storage.config.credentialsFile).toBe(join(run.secretMounts["/kopia-keys"]!, "credentials-file"));
    }
  });
});

describe("rclone: from the Jobs, against a real WebDAV server through an rclone remote", () => {
  test("rclone's config file (RCLONE_CONFIG) reaches each Job as a mounted file, its password as an RCLONE_CONFIG_* variable of the per-Job Secret", async () => {
    const webdav = await startWebdav();
    await webdav.makeFolder("jobs");
    const obscured = Bun.spawnSync(["rclone", "obscure", "-"], { stdin: Buffer.from(webdav.password) }).stdout.toString().trim();
    expect(obscured.length).toBeGreaterThan(0);
    const config = join(await tempDir(), "rclone.conf");
    const configText = `[dav]\ntype = webdav\nurl = http://127.0.0.1:${webdav.port}/\nvendor = other\nuser = ${webdav.user}\n`;
    await writeFile(config, configText, { mode: 0o600 });
    const rcloneEnv = { RCLONE_CONFIG: config, RCLONE_CONFIG_DAV_PASS: obscured };
    const job = await backUpThroughJobs("rclone:dav:jobs", rcloneEnv);
    await expectBackedUpAndRestorable(job, { repository: "rclone:dav:jobs", storageArgs: ["rclone", "--remote-path=dav:jobs"], env: rcloneEnv });
    await expectKeyFilesMounted(job.runs, { "rclone-config": configText }, jobOf);
    for (const run of job.runs) {
      expect(run.env.RCLONE_CONFIG).toBe(join(run.secretMounts["/kopia-keys"]!, "rclone-config"));
      expect(run.spec.spec!.containers[0]!.env).toContainEqual({ name: "RCLONE_CONFIG_DAV_PASS", valueFrom: { secretKeyRef: { name: jobOf(run), key: "RCLONE_CONFIG_DAV_PASS" } } });
      expect(JSON.stringify(run.spec)).not.toContain(obscured);
    }
  });
});

describe("azure:// from the Jobs, against a real Azurite", () => {
  test("the account and key reach each Job by name from its per-Job Secret; the Job spec holds neither value", async () => {
    const azurite = await startAzurite();
    await azurite.createContainer("backups");
    const { SSL_CERT_FILE, ...credentials } = azurite.env();
    const repository = `azure://backups/jobs?storage-domain=${azurite.storageDomain}`;
    // The image's CA bundle, and a name the cluster's DNS would resolve: from the host.
    const job = await backUpThroughJobs(repository, credentials, { host: { env: { SSL_CERT_FILE }, wrap: azurite.inHostsNamespace } });
    await expectBackedUpAndRestorable(job, {
      repository, storageArgs: ["azure", "--container=backups", "--prefix=jobs/", `--storage-domain=${azurite.storageDomain}`], env: azurite.env(), wrap: azurite.inHostsNamespace,
    });
    for (const run of job.runs) {
      const env = run.spec.spec!.containers[0]!.env!;
      for (const name of ["AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY"]) expect(env.find((variable) => variable.name === name)!.valueFrom!.secretKeyRef!.key).toBe(name);
      expect(JSON.stringify(run.spec)).not.toContain(azurite.key);
      expect(keyFilesVolume(run.spec)).toBeUndefined();
    }
  });
});
