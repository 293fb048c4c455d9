import { describe, expect, test } from "bun:test";
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rulesFile } from "../tools/prometheus-rule.ts";
import { isolatedKopiaEnv, kopiaForAnyUser, TEST_PASSWORD } from "../support/kopia.ts";
import { startPrometheus, type FiringAlert } from "../support/prometheus.ts";
import { startPushgateway } from "../support/pushgateway.ts";
import { tempDir, waitFor } from "../support/processes.ts";
import { runScript } from "../support/scripts.ts";

/**
 * The shipped rules with test-sized waits: every `for:` becomes 0s and the maintenance thresholds
 * 15 s. The other thresholds stay as shipped (a source without any success counts as succeeded at 0).
 */
async function testRules(): Promise<string> {
  const shipped = await Bun.file(rulesFile).text();
  const rules = shipped.replace(/for: \d+m/g, "for: 0s").replace(/\* 0\) > \d+ \* 86400/g, "* 0) > 15");
  expect(rules).not.toBe(shipped);
  expect(rules).not.toContain("86400");
  return rules;
}

/** "alertname source-or-repository" of each firing alert, sorted. */
const firing = (alerts: FiringAlert[]) =>
  alerts.filter((alert) => alert.state === "firing").map((alert) => `${alert.labels.alertname} ${alert.labels.source ?? alert.labels.repository}`).sort();

async function volume(files: Record<string, string>) {
  const dir = join(await tempDir(), "volume");
  await mkdir(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

describe("alerts on a real Prometheus scraping a real Pushgateway fed by real kopia-backup runs", () => {
  test("success stays quiet; a partial run, a wrong password and vanished metrics fire the right alerts, with namespace and PVC; a later success resolves; a failure after a partial run is a failure", async () => {
    const gateway = await startPushgateway();
    const prometheus = await startPrometheus({ pushgatewayUrl: gateway.url, rules: await testRules() });
    const repository = `filesystem://${join(await tempDir(), "repo")}`;
    const { env } = await isolatedKopiaEnv({ KK_PUSHGATEWAY_URL: gateway.url });
    const backup = (pvc: string, namespace: string, data: string, extraEnv: Record<string, string> = {}) =>
      runScript("kopia-backup", ["--path", data, "--repository", repository, "--username", pvc, "--hostname", namespace, "--source-path", "/data"], { ...env, ...extraEnv });

    const good = await backup("web", "apps", await volume({ "index.html": "hello" }));
    expect(good.exitCode, good.output).toBe(0);
    const dbData = await volume({ "db.sqlite": "rows" });
    const db = await backup("db", "apps", dbData);
    expect(db.exitCode, db.output).toBe(0);
    const maintenance = await runScript("kopia-maintenance", ["--repository", repository], env);
    expect(maintenance.exitCode, maintenance.output).toBe(0);

    // Partial: nobody cannot read one file (root reads everything).
    const dir = await tempDir();
    await chmod(dir, 0o777);
    const photos = join(dir, "volume");
    await mkdir(photos, { mode: 0o755 });
    await writeFile(join(photos, "readable.jpg"), "ok", { mode: 0o644 });
    await writeFile(join(photos, "root-only.jpg"), "secret", { mode: 0o600 });
    const kopiaBinary = await kopiaForAnyUser(dir);
    const home = join(dir, "home");
    await mkdir(home, { mode: 0o777 });
    await chown(home, 65534, 65534);
    const backupPhotosAsNobody = (password: string) =>
      runScript(
        "kopia-backup",
        ["--path", photos, "--repository", `filesystem://${join(dir, "repo")}`, "--username", "photos", "--hostname", "media.homelab", "--source-path", "/data", "--kopia-path", kopiaBinary],
        { HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache"), KOPIA_PASSWORD: password, KK_PUSHGATEWAY_URL: gateway.url },
        { asUser: 65534 },
      );
    const partial = await backupPhotosAsNobody(TEST_PASSWORD);
    expect(partial.exitCode, partial.output).toBe(3);

    // Wrong password: db, which succeeded before, and a new source that never succeeded.
    const wrong = { KOPIA_PASSWORD: "wrong password" };
    expect((await backup("db", "apps", dbData, wrong)).exitCode).toBe(5);
    expect((await backup("new", "apps", await volume({ a: "a" }), wrong)).exitCode).toBe(5);

    // Gone: web's group deleted from the Pushgateway, as a restart without persistence would.
    await waitFor("web's metrics in Prometheus", async () => (await prometheus.query('kopia_k8s_backup_success{source="web@apps:/data"}')).length === 1);
    const webGroup = `${gateway.url}/metrics/job/kopia_k8s_backup/source@base64/${Buffer.from("web@apps:/data").toString("base64url")}`;
    expect((await fetch(webGroup, { method: "DELETE" })).status).toBe(202);

    const expected = [
      "KopiaK8sBackupFailed db@apps:/data",
      "KopiaK8sBackupFailed new@apps:/data",
      "KopiaK8sBackupMetricsVanished web@apps:/data",
      "KopiaK8sBackupPartial photos@media.homelab:/data",
      "KopiaK8sBackupTooOld new@apps:/data",
      "KopiaK8sBackupTooOld photos@media.homelab:/data",
      `KopiaK8sMaintenanceNotSuccessful ${repository}`,
    ];
    let alerts: FiringAlert[] = [];
    await waitFor("the expected alerts to fire", async () => {
      alerts = await prometheus.alerts();
      return JSON.stringify(firing(alerts)) === JSON.stringify(expected);
    }, 30_000).catch(() => expect(firing(alerts)).toEqual(expected));

    const partialAlert = alerts.find((alert) => alert.labels.alertname === "KopiaK8sBackupPartial")!;
    expect(partialAlert.labels).toMatchObject({ namespace: "media", pvc: "photos", severity: "warning", job: "kopia_k8s_backup" });
    expect(partialAlert.annotations.summary).toBe("Backup of PVC media/photos skipped 1 unreadable entries");
    const failedAlert = alerts.find((alert) => alert.labels.alertname === "KopiaK8sBackupFailed" && alert.labels.pvc === "db")!;
    expect(failedAlert.labels.namespace).toBe("apps");
    expect(failedAlert.annotations.description).toContain("PVC db in namespace apps");

    // Resolves: db succeeds again, maintenance runs again. And photos, after its partial run, fails
    // outright: that is a failure now, not a partial backup.
    // Maintenance last: its test threshold (15 s) starts again with it.
    expect((await backupPhotosAsNobody("wrong password")).exitCode).toBe(5);
    expect((await backup("db", "apps", dbData)).exitCode).toBe(0);
    expect((await runScript("kopia-maintenance", ["--repository", repository], env)).exitCode).toBe(0);
    const resolved = [
      "KopiaK8sBackupFailed new@apps:/data",
      "KopiaK8sBackupFailed photos@media.homelab:/data",
      "KopiaK8sBackupMetricsVanished web@apps:/data",
      "KopiaK8sBackupTooOld new@apps:/data",
      "KopiaK8sBackupTooOld photos@media.homelab:/data",
    ];
    await waitFor("db's and the maintenance alerts to resolve, photos' to turn from partial to failed", async () => {
      alerts = await prometheus.alerts();
      return JSON.stringify(firing(alerts)) === JSON.stringify(resolved);
    }, 30_000).catch(() => expect(firing(alerts)).toEqual(resolved));
  });
});
