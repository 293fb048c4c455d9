import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { rawKopia } from "../support/kopia.ts";
import { createAppPod, jobsIn, operatorEnv } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";
import { collect, runScript, startScript } from "../support/scripts.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("a backup Job's real command", () => {
  test("kopia-backup with the Job's args, env and Secret, the PV's folder as the mount: restore matches; the table shows its summary", async () => {
    const namespace = await cluster.freshNamespace("real", { jobPods: "hang" });
    const volume = await cluster.createBoundPvc(namespace, "photos", { node: cluster.nodes[0]! });
    await makeCorpus(volume.hostPath, { largeFileMiB: 4 });
    await createAppPod(cluster, namespace, "gallery", ["photos"]);
    const repo = join(await tempDir(), "repo");
    const operator = startScript("operator-backup", ["--namespace", namespace, "--repository", `filesystem://${repo}`, "--no-maintenance", "--keep-daily", "5"], operatorEnv(cluster));
    const operatorRun = collect(operator);

    let job = (await jobsIn(cluster, namespace))[0];
    for (let waited = 0; !job && waited < 300; waited++) {
      await Bun.sleep(100);
      job = (await jobsIn(cluster, namespace))[0];
    }
    expect(job).toBeDefined();
    const container = job!.spec!.template.spec!.containers[0]!;
    const secretName = container.envFrom![0]!.secretRef!.name!;
    let secret = await cluster.core.readNamespacedSecret({ name: secretName, namespace }).catch(() => undefined);
    for (let waited = 0; !secret && waited < 100; waited++) {
      await Bun.sleep(100);
      secret = await cluster.core.readNamespacedSecret({ name: secretName, namespace }).catch(() => undefined);
    }
    // The container's environment: its plain env plus the Secret, with its state folders made local.
    const state = await tempDir();
    const env: Record<string, string> = { HOME: state };
    for (const variable of container.env ?? []) env[variable.name] = variable.value ?? "";
    for (const [key, value] of Object.entries(secret!.data ?? {})) env[key] = Buffer.from(value, "base64").toString();
    for (const key of ["KK_CONFIG_PATH", "KK_KOPIA_CACHE_PATH", "KK_KOPIA_LOG_PATH"]) env[key] = join(state, key);
    const summaryFile = join(state, "termination-log");
    const args = container.args!.map((arg, index, all) => (all[index - 1] === "--path" ? volume.hostPath : all[index - 1] === "--summary-file" ? summaryFile : arg));
    expect(container.command).toEqual(["kopia-backup"]);

    const backup = await runScript("kopia-backup", [...args, "--source-path", "/data"], env);
    expect(backup.exitCode, backup.output).toBe(0);
    const summary = await Bun.file(summaryFile).text();
    const [pod] = await cluster.podsOfJob(namespace, job!.metadata!.name!);
    await cluster.completePod(namespace, pod!.metadata!.name!, { exitCode: 0, message: summary });

    const run = await operatorRun;
    expect(run.exitCode, run.output).toBe(0);
    const files = JSON.parse(summary).files;
    expect(run.stdout).toMatch(new RegExp(`${namespace}\\s+photos\\s+${cluster.nodes[0]}\\s+success\\s+${files}\\s`));

    const kopia = await rawKopia(["filesystem", "--path", repo]);
    const snapshots = await kopia.snapshots(`photos@${namespace}:/data`);
    expect(snapshots).toHaveLength(1);
    const restored = join(await tempDir(), "restored");
    await kopia.restore(snapshots[0]!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(volume.hostPath));
    const policy = await kopia.run(["policy", "show", `photos@${namespace}:/data`]);
    expect(policy).toMatch(/Daily snapshots:\s+5/);
  });
});
