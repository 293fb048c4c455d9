import { join } from "node:path";
import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

export interface FiringAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "pending" | "firing";
}

/**
 * A real Prometheus (Debian's package) on 127.0.0.1 that scrapes the given Pushgateway every second
 * with honor_labels (the pushed job/source labels stay as they are) and evaluates `rules` every second.
 */
export async function startPrometheus(options: { pushgatewayUrl: string; rules: string }) {
  const port = freePort();
  const dir = await tempDir("kk-prometheus-");
  const target = new URL(options.pushgatewayUrl).host;
  await Bun.write(join(dir, "rules.yaml"), options.rules);
  await Bun.write(
    join(dir, "prometheus.yml"),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [rules.yaml]
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{ targets: ["${target}"] }]
`,
  );
  startDaemon([
    "prometheus",
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor("prometheus", async () => (await fetch(`${url}/-/ready`)).ok);
  const api = async <T>(path: string): Promise<T> => {
    const body = (await (await fetch(`${url}/api/v1/${path}`)).json()) as { status: string; data: T };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${JSON.stringify(body)}`);
    return body.data;
  };
  return {
    url,
    alerts: async () => (await api<{ alerts: FiringAlert[] }>("alerts")).alerts,
    query: async (expr: string) => (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`query?query=${encodeURIComponent(expr)}`)).result,
  };
}
