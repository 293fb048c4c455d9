/**
 * The kube-apiserver audit log of the benchmark cluster, read back: one identity's requests in a
 * byte range of the log (one operator run), counted at stage RequestReceived (exactly one event per
 * request, watches included) and matched with their ResponseComplete for status code and latency.
 */
import { statSync } from "node:fs";

/** Metadata level for the benchmark's operator identity only; nothing else is logged. */
export function auditPolicy(username: string): string {
  return `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["ResponseStarted"]
rules:
- level: Metadata
  users: [${JSON.stringify(username)}]
- level: None
`;
}

interface AuditEvent {
  auditID: string;
  stage: "RequestReceived" | "ResponseStarted" | "ResponseComplete" | "Panic";
  verb: string;
  requestURI: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export interface RequestKind {
  verb: string;
  resource: string;
  scope: "cluster-wide" | "namespaced";
  count: number;
  /** Requests answered with a code outside 2xx (watch ends included), by code. */
  failures: Record<string, number>;
  /** Server-side time from receipt to the end of the response (watches: their whole life). */
  meanMs: number;
  maxMs: number;
}

export interface AuditSummary {
  total: number;
  kinds: RequestKind[];
  userAgents: string[];
  /** requestReceivedTimestamp of the first and last request, and of the first `create jobs`. */
  firstAt?: number;
  lastAt?: number;
  firstJobCreateAt?: number;
  /** Requests still without a ResponseComplete when the log was read. */
  unfinished: number;
}

export function auditLogSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export async function readAudit(path: string, fromByte: number, username: string): Promise<AuditSummary> {
  const text = await Bun.file(path).slice(fromByte).text();
  const received = new Map<string, AuditEvent>();
  const completed = new Map<string, AuditEvent>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (event.user?.username !== username) continue;
    if (event.stage === "RequestReceived") received.set(event.auditID, event);
    else if (event.stage === "ResponseComplete" || event.stage === "Panic") completed.set(event.auditID, event);
  }
  const kinds = new Map<string, RequestKind & { totalMs: number; timed: number }>();
  const userAgents = new Set<string>();
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  let firstJobCreateAt: number | undefined;
  let unfinished = 0;
  for (const event of received.values()) {
    const at = Date.parse(event.requestReceivedTimestamp);
    firstAt = Math.min(firstAt ?? at, at);
    lastAt = Math.max(lastAt ?? at, at);
    const ref = event.objectRef ?? {};
    const resource = ref.resource ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ""}` : event.requestURI.split("?")[0]!;
    if (event.verb === "create" && ref.resource === "jobs" && !ref.subresource) firstJobCreateAt = Math.min(firstJobCreateAt ?? at, at);
    if (event.userAgent) userAgents.add(event.userAgent);
    const scope = ref.namespace ? "namespaced" : "cluster-wide";
    const key = `${event.verb} ${resource} ${scope}`;
    const kind = kinds.get(key) ?? { verb: event.verb, resource, scope, count: 0, failures: {}, meanMs: 0, maxMs: 0, totalMs: 0, timed: 0 };
    kinds.set(key, kind);
    kind.count++;
    const done = completed.get(event.auditID);
    if (!done) {
      unfinished++;
      continue;
    }
    const code = done.responseStatus?.code ?? 0;
    if (code < 200 || code > 299) kind.failures[String(code)] = (kind.failures[String(code)] ?? 0) + 1;
    const ms = Date.parse(done.stageTimestamp) - at;
    kind.totalMs += ms;
    kind.timed++;
    kind.maxMs = Math.max(kind.maxMs, ms);
  }
  const list = [...kinds.values()]
    .map(({ totalMs, timed, ...kind }) => ({ ...kind, meanMs: timed ? totalMs / timed : 0 }))
    .sort((a, b) => b.count - a.count || a.verb.localeCompare(b.verb));
  return {
    total: received.size,
    kinds: list,
    userAgents: [...userAgents],
    ...(firstAt !== undefined ? { firstAt } : {}),
    ...(lastAt !== undefined ? { lastAt } : {}),
    ...(firstJobCreateAt !== undefined ? { firstJobCreateAt } : {}),
    unfinished,
  };
}
