/**
 * A plain-HTTP front for the test cluster's API server: the code under test talks to it, and a test
 * answers chosen requests itself (a 503 for every watch, an old /version) and counts requests.
 * Everything else is forwarded as the cluster admin. No WebSocket upgrades, so no pods/exec.
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { RequestOptions } from "node:https";
import { join } from "node:path";
import type { TestCluster } from "./cluster.ts";
import { onCleanup, tempDir } from "./processes.ts";

export interface ProxiedRequest {
  method: string;
  url: URL;
  at: number;
}

/** A Response to answer the request with, or undefined to forward it. */
export type ProxyRule = (request: ProxiedRequest) => Response | undefined;

export interface ApiProxy {
  /** A kubeconfig that points at the proxy (no credentials: the proxy adds the admin's). */
  kubeconfigPath: string;
  /** Every request received, in order. */
  requests: ProxiedRequest[];
  stop(): void;
}

/** A Kubernetes Status response, as the API server words one. */
export function statusResponse(code: number, reason: string, message: string): Response {
  return Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code }, { status: code });
}

export const isWatch = (request: ProxiedRequest) => request.url.searchParams.get("watch") === "true";

const dropped = new Set(["host", "connection", "content-length", "transfer-encoding", "accept-encoding", "content-encoding", "keep-alive"]);
const forwardable = (headers: Headers) => {
  const kept = new Headers();
  headers.forEach((value, name) => dropped.has(name.toLowerCase()) || kept.set(name, value));
  return kept;
};

function prefixed(first: string, rest: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = rest.getReader();
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(first));
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

export async function startApiProxy(cluster: TestCluster, rule: ProxyRule): Promise<ApiProxy> {
  const upstream = cluster.kc.getCurrentCluster()!.server;
  const tlsOptions: RequestOptions = {};
  await cluster.kc.applyToHTTPSOptions(tlsOptions);
  const tls = { ca: String(tlsOptions.ca), cert: String(tlsOptions.cert), key: String(tlsOptions.key) };
  const requests: ProxiedRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0, // watches stay open for minutes
    async fetch(request) {
      const url = new URL(request.url);
      const seen: ProxiedRequest = { method: request.method, url, at: Date.now() };
      requests.push(seen);
      const answer = rule(seen);
      if (answer) return answer;
      const headers = forwardable(request.headers);
      headers.set("accept-encoding", "identity");
      const requestBody = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const response = await fetch(`${upstream}${url.pathname}${url.search}`, { method: request.method, headers, body: requestBody, tls, signal: request.signal });
      // Bun sends the headers with the first body chunk, and a quiet watch has none for a minute:
      // an empty line first (watch clients skip lines that are not JSON) lets it start at once.
      const body = isWatch(seen) && response.ok && response.body ? prefixed("\n", response.body) : response.body;
      return new Response(body, { status: response.status, headers: forwardable(response.headers) });
    },
  });
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "proxy", server: `http://127.0.0.1:${server.port}`, skipTLSVerify: true }],
    users: [{ name: "admin" }],
    contexts: [{ name: "proxy", cluster: "proxy", user: "admin" }],
    currentContext: "proxy",
  });
  const kubeconfigPath = join(await tempDir(), "kubeconfig");
  await Bun.write(kubeconfigPath, config.exportConfig());
  const stop = () => void server.stop(true);
  onCleanup(stop);
  return { kubeconfigPath, requests, stop };
}
