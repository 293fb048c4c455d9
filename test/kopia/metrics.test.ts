import { describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isolatedKopiaEnv } from "../support/kopia.ts";
import { startPushgateway } from "../support/pushgateway.ts";
import { tempDir } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

const sampleValue = (text: string, metric: string) => {
  const match = new RegExp(`^${metric}\\{[^}]*source="pvc-m@ns-m:/data"[^}]*\\} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : undefined;
};

describe("backup metrics on a real Pushgateway and in a node_exporter textfile", () => {
  test("success sets every gauge; a later failed run sets success=0 and keeps the last success time", async () => {
    const gateway = await startPushgateway();
    const data = join(await tempDir(), "data");
    await mkdir(data);
    await writeFile(join(data, "one.txt"), "12345");
    const repo = join(await tempDir(), "repo");
    const metricsFile = join(await tempDir(), "kopia.prom");
    const { env } = await isolatedKopiaEnv({ KK_PUSHGATEWAY_URL: gateway.url });
    const args = ["--path", data, "--repository", `filesystem://${repo}`, "--hostname", "ns-m", "--username", "pvc-m", "--source-path", "/data", "--metrics-file", metricsFile];

    const ok = await runScript("kopia-backup", args, env);
    expect(ok.exitCode, ok.output).toBe(0);
    const scraped = await gateway.scrape();
    expect(scraped).toMatch(/kopia_k8s_backup_success\{[^}]*job="kopia_k8s_backup"[^}]*\} 1/);
    expect(sampleValue(scraped, "kopia_k8s_backup_files")).toBe(1);
    expect(sampleValue(scraped, "kopia_k8s_backup_size_bytes")).toBe(5);
    expect(sampleValue(scraped, "kopia_k8s_backup_errors")).toBe(0);
    const lastSuccess = sampleValue(scraped, "kopia_k8s_backup_last_success_timestamp_seconds")!;
    expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(60);
    expect(sampleValue(await Bun.file(metricsFile).text(), "kopia_k8s_backup_last_success_timestamp_seconds")).toBe(lastSuccess);

    await Bun.sleep(1100);
    const failed = await runScript("kopia-backup", args, { ...env, KOPIA_PASSWORD: "wrong password" });
    expect(failed.exitCode, failed.output).toBe(5);
    const afterFailure = await gateway.scrape();
    expect(sampleValue(afterFailure, "kopia_k8s_backup_success")).toBe(0);
    expect(sampleValue(afterFailure, "kopia_k8s_backup_last_run_timestamp_seconds")!).toBeGreaterThan(lastSuccess);
    expect(sampleValue(afterFailure, "kopia_k8s_backup_last_success_timestamp_seconds")).toBe(lastSuccess);
    const textfile = await Bun.file(metricsFile).text();
    expect(sampleValue(textfile, "kopia_k8s_backup_success")).toBe(0);
    expect(sampleValue(textfile, "kopia_k8s_backup_last_success_timestamp_seconds")).toBe(lastSuccess);
  });

  test("an unreachable Pushgateway is a warning, not a failed backup", async () => {
    const data = join(await tempDir(), "data");
    await mkdir(data);
    await writeFile(join(data, "x"), "x");
    const { env } = await isolatedKopiaEnv();
    const run = await runScript("kopia-backup", ["--path", data, "--repository", `filesystem://${join(await tempDir(), "repo")}`, "--pushgateway-url", "http://127.0.0.1:9"], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr).toContain("metrics not pushed to http://127.0.0.1:9");
  });
});
