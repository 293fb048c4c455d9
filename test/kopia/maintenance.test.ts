import { describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isolatedKopiaEnv, rawKopia } from "../support/kopia.ts";
import { startMinio } from "../support/minio.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

async function maintenanceOwner(storageArgs: string[], storageEnv: Record<string, string> = {}): Promise<string> {
  const kopia = await rawKopia(storageArgs, storageEnv);
  await kopia.ensureConnected();
  return JSON.parse(await kopia.run(["maintenance", "info", "--json"])).owner;
}

describe("kopia-maintenance (real kopia)", () => {
  test("takes ownership from the identity that created the repository, then runs quick and full", async () => {
    const data = join(await tempDir(), "data");
    await mkdir(data);
    await writeFile(join(data, "a.txt"), "a\n");
    const repo = join(await tempDir(), "repo");
    const { env } = await isolatedKopiaEnv();
    const backup = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${repo}`, "--hostname", "ns1", "--username", "pvc1"], env);
    expect(backup.exitCode, backup.output).toBe(0);
    expect(await maintenanceOwner(["filesystem", "--path", repo])).toBe("pvc1@ns1");

    const metricsFile = join(await tempDir(), "maintenance.prom");
    const quick = await runScript("kopia-maintenance", ["--repository", `filesystem://${repo}`, "--metrics-file", metricsFile], env);
    expect(quick.exitCode, quick.output).toBe(0);
    expect(quick.output).toContain("took maintenance ownership from pvc1@ns1; owner is now maintenance@kopia-k8s");
    expect(quick.output).toMatch(/(quick|full) maintenance finished/);
    expect(await maintenanceOwner(["filesystem", "--path", repo])).toBe("maintenance@kopia-k8s");

    const full = await runScript("kopia-maintenance", ["--repository", `filesystem://${repo}`, "--full", "--metrics-file", metricsFile], env);
    expect(full.exitCode, full.output).toBe(0);
    expect(full.output).not.toContain("took maintenance ownership");
    expect(full.output).toContain("full maintenance finished");
    const metrics = await Bun.file(metricsFile).text();
    expect(metrics).toMatch(/kopia_k8s_maintenance_success\{kind="full",repository="filesystem:\/\/.*"\} 1/);
    expect(metrics).toMatch(/kopia_k8s_maintenance_last_success_timestamp_seconds\{kind="full"/);

    const again = await runScript("kopia-maintenance", ["--repository", `filesystem://${repo}`], env);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.output).toContain("quick maintenance finished"); // full was just done, so not due

    // The connection is reused, so kopia meets a changed password only at `maintenance info`.
    const wrong = await runScript("kopia-maintenance", ["--repository", `filesystem://${repo}`], { ...env, KOPIA_PASSWORD: "not the password" });
    expect(wrong.exitCode, wrong.output).toBe(5);
    expect(wrong.stderr).toContain("wrong password; set KOPIA_PASSWORD (or KK_ENCRYPTION_PASSWORD) to the repository's password");
  });

  test("custom owner on S3, and an uninitialised repository is refused without creating one", async () => {
    const minio = await startMinio();
    await minio.createBucket("maint");
    const { env } = await isolatedKopiaEnv(minio.env);
    const repository = `s3://maint?endpoint=${minio.endpoint}&insecure=true`;
    const refused = await runScript("kopia-maintenance", ["--repository", repository], env);
    expect(refused.exitCode, refused.output).toBe(5);
    expect(refused.stderr).toContain("not initialized; run kopia-backup once to create it");
    expect(await minio.listObjects("maint")).toEqual([]);

    const data = join(await tempDir(), "data");
    await mkdir(data);
    await writeFile(join(data, "b.txt"), "b\n");
    expect((await runScript("kopia-backup", ["--path", data, "--repository", repository], env)).exitCode).toBe(0);
    const run = await runScript("kopia-maintenance", ["--repository", repository, "--owner", "janitor@cluster-a"], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(await maintenanceOwner(["s3", "--bucket", "maint", "--endpoint", minio.endpoint, "--disable-tls"], minio.env)).toBe("janitor@cluster-a");
  });
});
