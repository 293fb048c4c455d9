import { beforeAll, describe, expect, test } from "bun:test";
import { join, relative } from "node:path";
import { monitoringDir, rulesFile } from "../tools/prometheus-rule.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { tempDir } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
  // prometheus-operator's CRD, generated from its API types by provision.sh (cluster-wide; applying again is a no-op).
  const crd = kubectl(["apply", "--server-side", "-f", join(process.env.KK_TOOLS_BIN!, "prometheusrule-crd.yaml")]);
  expect(crd.exitCode, crd.output).toBe(0);
  const established = kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/prometheusrules.monitoring.coreos.com"]);
  expect(established.exitCode, established.output).toBe(0);
});

function kubectl(args: string[]) {
  const run = Bun.spawnSync(["kubectl", "--kubeconfig", cluster.kubeconfigPath, ...args], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, stdout: run.stdout.toString(), output: run.stdout.toString() + run.stderr.toString() };
}

/** kubectl apply -k of deploy/monitoring through an overlay that only moves it into `namespace`. */
async function applyInto(namespace: string, base: string) {
  const overlay = await tempDir("kk-overlay-");
  await Bun.write(join(overlay, "kustomization.yaml"), `resources: [${JSON.stringify(relative(overlay, base))}]\nnamespace: ${namespace}\n`);
  return kubectl(["apply", "-k", overlay]);
}

describe("deploy/monitoring on the test cluster with prometheus-operator's PrometheusRule CRD", () => {
  test("kubectl apply -k deploy/monitoring is accepted and stores the rules file's groups", async () => {
    const namespace = await cluster.freshNamespace("monitoring");
    const applied = await applyInto(namespace, monitoringDir);
    expect(applied.exitCode, applied.output).toBe(0);
    expect(applied.output).toContain("prometheusrule.monitoring.coreos.com/kopia-k8s created");
    const stored = JSON.parse(kubectl(["get", "prometheusrule", "kopia-k8s", "-n", namespace, "-o", "json"]).stdout);
    expect(stored.spec.groups).toEqual((Bun.YAML.parse(await Bun.file(rulesFile).text()) as { groups: unknown }).groups);
  });

  test("the CRD's schema is enforced: a rule with a malformed `for:` is refused", async () => {
    const namespace = await cluster.freshNamespace("monitoring-bad");
    const broken = await tempDir("kk-broken-rules-");
    const manifest = (await Bun.file(join(monitoringDir, "prometheusrule.yaml")).text()).replace("for: 15m", "for: 15 minutes");
    await Bun.write(join(broken, "prometheusrule.yaml"), manifest);
    await Bun.write(join(broken, "kustomization.yaml"), "resources: [prometheusrule.yaml]\n");
    const refused = await applyInto(namespace, broken);
    expect(refused.exitCode, refused.output).not.toBe(0);
    expect(refused.output).toMatch(/spec\.groups\[0\]\.rules\[0\]\.for: Invalid value: "15 minutes"/);
  });
});
