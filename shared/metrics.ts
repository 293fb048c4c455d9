import { readFile, rename, writeFile } from "node:fs/promises";
import { usageError } from "./exit-codes.ts";

// Written by hand rather than with prom-client: its Pushgateway client encodes grouping values with
// encodeURIComponent (a Kopia source holds '/', which the Pushgateway takes only as @base64), and
// loading it adds ~4.5 ms to kopia-backup's ~12 ms start-up.

/** One gauge sample. Every kopia-k8s metric is a gauge labelled by its Kopia source. */
export interface Sample {
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format (what both the Pushgateway and node_exporter read). */
export function toExposition(samples: Sample[]): string {
  const lines: string[] = [];
  const described = new Set<string>();
  const byFamily = [...samples].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const sample of byFamily) {
    if (!described.has(sample.name)) {
      described.add(sample.name);
      lines.push(`# HELP ${sample.name} ${sample.help}`, `# TYPE ${sample.name} gauge`);
    }
    lines.push(`${sample.name}${formatLabels(sample.labels)} ${sample.value}`);
  }
  return `${lines.join("\n")}\n`;
}

function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([key, value]) => `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return pairs.length ? `{${pairs.join(",")}}` : "";
}

export function validatePushgatewayUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const url = URL.parse(value);
  // Any '@' counts: without a scheme, "user:pass@host" does not parse as credentials, yet holds them.
  if (url?.username || url?.password || value.includes("@")) {
    throw usageError("--pushgateway-url: the URL must not hold credentials (they would show in logs and in the backup Jobs' env); give the address without user:password@, e.g. http://pushgateway.monitoring:9091");
  }
  if (url?.protocol !== "http:" && url?.protocol !== "https:") {
    throw usageError(`--pushgateway-url: '${value}' is not an http(s) URL, e.g. http://pushgateway.monitoring:9091`);
  }
  return value.replace(/\/+$/, "");
}

/**
 * POST into the group job/<job>/<groupLabel>@base64/<value as base64url>: replaces only the metrics
 * pushed now, so a failed run that omits the last-success gauge leaves the previous success time in place.
 */
export async function pushToGateway(gatewayUrl: string, job: string, source: string, samples: Sample[], groupLabel = "source"): Promise<void> {
  const group = `job/${encodeURIComponent(job)}/${groupLabel}@base64/${Buffer.from(source).toString("base64url") || "="}`;
  const response = await fetch(`${gatewayUrl}/metrics/${group}`, {
    method: "POST",
    headers: { "content-type": "text/plain; version=0.0.4" },
    body: toExposition(samples),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new Error(`pushgateway answered ${response.status}: ${(await response.text()).trim().slice(0, 200)}`);
  }
}

/**
 * Writes a node_exporter textfile atomically (temp file + rename). Gauges this run did not produce
 * (e.g. last success after a failure)
 * and other sources' series are carried over from the previous file.
 */
export async function writeMetricsFile(path: string, samples: Sample[]): Promise<void> {
  const previous = await readFile(path, "utf8").catch(() => "");
  const produced = new Set(samples.map(seriesKey));
  const carriedOver = parseExposition(previous).filter((sample) => !produced.has(seriesKey(sample)));
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, toExposition([...samples, ...carriedOver]));
  await rename(temporary, path);
}

const seriesKey = (sample: Sample) => `${sample.name}${formatLabels(sample.labels)}`;

/** Reads back what toExposition wrote (only that shape: gauges with quoted labels). */
export function parseExposition(text: string): Sample[] {
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const helpMatch = /^# HELP (\S+) (.*)$/.exec(line);
    if (helpMatch) help.set(helpMatch[1]!, helpMatch[2]!);
    const sampleMatch = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sampleMatch) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sampleMatch[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!.replace(/\\(.)/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped));
    }
    samples.push({ name: sampleMatch[1]!, help: help.get(sampleMatch[1]!) ?? "", labels, value: Number(sampleMatch[3]) });
  }
  return samples;
}

/** Sends samples wherever the user asked; a metrics failure is reported but never fails a backup. */
export async function publishMetrics(
  targets: { pushgatewayUrl?: string; metricsFile?: string },
  job: string,
  source: string,
  samples: Sample[],
  warn: (message: string) => void,
): Promise<void> {
  if (targets.pushgatewayUrl) {
    await pushToGateway(targets.pushgatewayUrl, job, source, samples).catch((error: Error) =>
      warn(`metrics not pushed to ${targets.pushgatewayUrl}: ${error.message}`),
    );
  }
  if (targets.metricsFile) {
    await writeMetricsFile(targets.metricsFile, samples).catch((error: Error) =>
      warn(`metrics file ${targets.metricsFile} not written: ${error.message}`),
    );
  }
}
