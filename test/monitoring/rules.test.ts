import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { prometheusRuleFile, prometheusRuleFrom, rulesFile } from "../tools/prometheus-rule.ts";

const here = import.meta.dir;
const promtoolTests = join(here, "kopia-k8s.rules.test.yaml");

function run(cmd: string[], cwd = here) {
  const result = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
}

interface RulesFile {
  groups: { name: string; rules: { alert: string; expr: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[];
}
const readYaml = async (path: string) => Bun.YAML.parse(await Bun.file(path).text()) as any;

describe("alert rules (deploy/monitoring)", () => {
  test("promtool check rules accepts the rules file", async () => {
    const plain = run(["promtool", "check", "rules", rulesFile]);
    expect(plain.exitCode, plain.output).toBe(0);
    expect(plain.output).toContain("SUCCESS: 7 rules found");
  });

  test("promtool test rules: every alert fires, stays quiet and resolves", async () => {
    const rules: RulesFile = await readYaml(rulesFile);
    const cases = await Bun.file(promtoolTests).text();
    for (const rule of rules.groups.flatMap((group) => group.rules)) {
      // An alert without cases would pass promtool silently.
      expect(cases, `no promtool case for ${rule.alert}`).toContain(`alertname: ${rule.alert}\n        exp_alerts: []`);
      expect(cases, `no promtool case where ${rule.alert} fires`).toMatch(new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
      // Every alert says which namespace/PVC (or repository) and what to do.
      // (operator alerts are about the run, not one volume: they name its cluster, if it has a name)
      expect(rule.annotations.summary, rule.alert).toMatch(/\$labels\.(pvc|repository|cluster)/);
      expect(rule.annotations.description, rule.alert).toMatch(/\$labels\.(namespace|repository)|kubectl -n kopia-k8s/);
    }
    const result = run(["promtool", "test", "rules", promtoolTests]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toContain("SUCCESS");
  });

  test("the PrometheusRule is generated from the rules file, so the two never drift", async () => {
    const rulesText = await Bun.file(rulesFile).text();
    expect(await Bun.file(prometheusRuleFile).text(), "deploy/monitoring/prometheusrule.yaml is stale: run npm run --silent monitoring:rules").toBe(prometheusRuleFrom(rulesText));
    const manifest = await readYaml(prometheusRuleFile);
    expect(manifest).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "kopia-k8s" } });
    expect(manifest.spec.groups).toEqual((Bun.YAML.parse(rulesText) as RulesFile).groups);
  });

  test("kubectl kustomize deploy/monitoring renders one PrometheusRule in namespace kopia-k8s", async () => {
    const rendered = run(["kubectl", "kustomize", join(here, "..", "..", "deploy", "monitoring")]);
    expect(rendered.exitCode, rendered.output).toBe(0);
    const manifest = Bun.YAML.parse(rendered.output) as any;
    expect(manifest).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "kopia-k8s", namespace: "kopia-k8s" } });
    expect(manifest.spec.groups[0].rules.map((rule: { alert: string }) => rule.alert)).toEqual([
      "KopiaK8sBackupTooOld", "KopiaK8sBackupFailed", "KopiaK8sBackupPartial", "KopiaK8sMaintenanceNotSuccessful", "KopiaK8sBackupMetricsVanished",
      "KopiaK8sOperatorRunFailed", "KopiaK8sOperatorNotRunning",
    ]);
  });
});
