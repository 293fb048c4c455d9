import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { elfMachine, prepareArm64 } from "../support/arm64.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { describeTree, makeCorpus } from "../support/corpus.ts";
import { isolatedKopiaEnv, rawKopia } from "../support/kopia.ts";
import { createAppPod, observeRuns, operatorArgs, operatorEnv } from "../support/operator.ts";
import { repoRoot, tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

// The linux/arm64 binaries, run here under qemu (binfmt_misc), against the amd64 ones on shared data.
let arm64Kopia: string;
beforeAll(() => {
  arm64Kopia = prepareArm64().kopia;
});

const arm64Script = (name: string) => join(repoRoot, "dist", "linux-arm64", name);
const amd64Kopia = () => join(process.env.KK_TOOLS_BIN!, "kopia");

async function corpusAndRepository() {
  const data = join(await tempDir(), "data");
  await makeCorpus(data, { largeFileMiB: 4 });
  return { data, repo: join(await tempDir(), "repo") };
}

describe("linux/arm64 beside linux/amd64", () => {
  test("arm64 kopia-backup with arm64 kopia writes a filesystem repository that amd64 kopia opens (fresh cache) and restores identically", async () => {
    expect(await elfMachine(arm64Script("kopia-backup"))).toBe("aarch64");
    expect(await elfMachine(arm64Kopia)).toBe("aarch64");
    expect(await elfMachine(amd64Kopia())).toBe("x86-64");
    const { data, repo } = await corpusAndRepository();
    const { env } = await isolatedKopiaEnv();
    const backup = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`, "--hostname", "pi", "--username", "arm64", "--kopia-path", arm64Kopia], env, { platform: "linux/arm64", cwd: await tempDir() });
    expect(backup.exitCode, backup.output).toBe(0);

    const kopia = await rawKopia(["filesystem", "--path", repo]);
    const [snapshot, ...more] = await kopia.snapshots(`arm64@pi:${data}`);
    expect(more).toEqual([]);
    const restored = join(await tempDir(), "restored");
    await kopia.restore(snapshot!.id, restored);
    expect(await describeTree(restored)).toEqual(await describeTree(data));
  });

  test("amd64 kopia-backup with amd64 kopia writes a repository that arm64 kopia-restore with arm64 kopia opens (fresh cache) and restores identically", async () => {
    expect(await elfMachine(arm64Script("kopia-restore"))).toBe("aarch64");
    expect(await elfMachine(arm64Kopia)).toBe("aarch64");
    const { data, repo } = await corpusAndRepository();
    const writer = await isolatedKopiaEnv();
    const backup = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`, "--hostname", "pc", "--username", "amd64", "--kopia-path", amd64Kopia()], writer.env);
    expect(backup.exitCode, backup.output).toBe(0);

    const reader = await isolatedKopiaEnv();
    const restored = join(await tempDir(), "restored");
    const restore = await runScript("kopia-restore", ["--repository", `filesystem://${repo}`, "--hostname", "pc", "--username", "amd64", "--target", restored, "--kopia-path", arm64Kopia], reader.env, { platform: "linux/arm64", cwd: await tempDir() });
    expect(restore.exitCode, restore.output).toBe(0);
    expect(await describeTree(restored)).toEqual(await describeTree(data));
  });

  test("arm64 operator-backup --dry-run plans hooks and Jobs against the test cluster and creates nothing", async () => {
    expect(await elfMachine(arm64Script("operator-backup"))).toBe("aarch64");
    const cluster: TestCluster = await sharedCluster();
    const namespace = await cluster.freshNamespace("arm64-dry-run");
    const node = cluster.nodes[0]!;
    await cluster.createBoundPvc(namespace, "db", { node });
    await createAppPod(cluster, namespace, "db-0", ["db"], { annotations: { "kopia-k8s.io/pre-backup": "sync" } });
    const observed = await observeRuns(cluster, [namespace]);
    const run = await runScript("operator-backup", await operatorArgs([namespace], ["--dry-run"]), operatorEnv(cluster), { platform: "linux/arm64" });
    observed.stop();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain(`would run pre-backup hook in ${namespace}/db-0 (app, timeout 300s, on error abort): sync`);
    expect(run.stdout).toContain(`would back up ${namespace}/db on node ${node} (mounted by db-0)`);
    expect(observed.jobs.size).toBe(0);
  });
});
