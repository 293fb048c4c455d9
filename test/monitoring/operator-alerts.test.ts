import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rulesFile } from "../tools/prometheus-rule.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { runOperatorWithHostJobs } from "../support/job-runner.ts";
import { createAppPod } from "../support/operator.ts";
import { startPrometheus, type FiringAlert } from "../support/prometheus.ts";
import { startPushgateway } from "../support/pushgateway.ts";
import { tempDir, waitFor } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

const firing = (alerts: FiringAlert[]) =>
  alerts.filter((alert) => alert.state === "firing").map((alert) => `${alert.labels.alertname} ${alert.labels.cluster ?? alert.labels.source}`).sort();

describe("operator-backup's run-level metrics on a real Prometheus", () => {
  test("a clean run on the test cluster is quiet; a run stopped by a wrong password before any backup Job fires KopiaK8sOperatorRunFailed, its PVC not started", async () => {
    const gateway = await startPushgateway();
    const rules = (await Bun.file(rulesFile).text()).replace(/for: \d+m/g, "for: 0s");
    const prometheus = await startPrometheus({ pushgatewayUrl: gateway.url, rules });
    const namespace = await cluster.freshNamespace("alerts");
    const volume = await cluster.createBoundPvc(namespace, "data", { node: cluster.nodes[0]! });
    await Bun.write(join(volume.hostPath, "a.txt"), "a\n");
    await createAppPod(cluster, namespace, "app", ["data"]);
    const args = ["--repository", `filesystem://${join(await tempDir(), "repo")}`, "--no-maintenance", "--pushgateway-url", gateway.url, "--cluster-name", "homelab"];
    const value = async (expr: string) => Number((await prometheus.query(expr))[0]?.value[1]);

    const clean = await runOperatorWithHostJobs(cluster, namespace, args);
    expect(clean.run.exitCode, clean.run.output).toBe(0);
    const source = `data@${namespace}.homelab:/data`;
    await waitFor("the clean run's metrics in Prometheus", async () =>
      (await value('kopia_k8s_operator_pvcs{state="succeeded",cluster="homelab"}')) === 1 && (await value(`kopia_k8s_backup_success{source="${source}"}`)) === 1,
    );
    expect(await value('kopia_k8s_operator_pvcs{state="planned",cluster="homelab"}')).toBe(1);
    expect(await value('kopia_k8s_operator_exit_code{cluster="homelab"}')).toBe(0);
    await Bun.sleep(2000); // two rule evaluations
    expect(firing(await prometheus.alerts())).toEqual([]);

    const stopped = await runOperatorWithHostJobs(cluster, namespace, args, { KOPIA_PASSWORD: "wrong password" });
    expect(stopped.run.exitCode, stopped.run.output).toBe(5);
    let alerts: FiringAlert[] = [];
    await waitFor("KopiaK8sOperatorRunFailed to fire", async () => {
      alerts = await prometheus.alerts();
      return firing(alerts).length > 0;
    }).catch(() => {});
    expect(firing(alerts)).toEqual(["KopiaK8sOperatorRunFailed homelab"]);
    expect(alerts[0]!.annotations.summary).toBe("operator-backup run of cluster homelab exited 5");
    expect(await value('kopia_k8s_operator_pvcs{state="not_started",cluster="homelab"}')).toBe(1);
    expect(await value('kopia_k8s_operator_pvcs{state="succeeded",cluster="homelab"}')).toBe(0);
  });
});
