/**
 * Writes deploy/monitoring/prometheusrule.yaml from deploy/monitoring/kopia-k8s.rules.yaml: the plain
 * rules file stays the one source of truth (test/monitoring/rules.test.ts fails when the two differ).
 * Usage: bun test/tools/prometheus-rule.ts   (npm run --silent monitoring:rules)
 */
import { join } from "node:path";

export const monitoringDir = join(import.meta.dir, "..", "..", "deploy", "monitoring");
export const rulesFile = join(monitoringDir, "kopia-k8s.rules.yaml");
export const prometheusRuleFile = join(monitoringDir, "prometheusrule.yaml");

/** The rules file's groups under a PrometheusRule's spec, indented as they are (comments kept). */
export function prometheusRuleFrom(rulesText: string): string {
  const body = rulesText.slice(rulesText.indexOf("\ngroups:") + 1);
  const indented = body.split("\n").map((line) => (line ? `  ${line}` : line)).join("\n");
  return `# Generated from kopia-k8s.rules.yaml by test/tools/prometheus-rule.ts; edit that file, not this one.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: kopia-k8s
  labels:
    app.kubernetes.io/name: kopia-k8s
    # kube-prometheus-stack selects rules by its release label by default; set yours.
    release: prometheus
spec:
${indented}`;
}

if (import.meta.main) {
  await Bun.write(prometheusRuleFile, prometheusRuleFrom(await Bun.file(rulesFile).text()));
}
