import { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { ExitCode, KkError } from "../exit-codes.ts";

export interface Kube {
  config: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  /** Deployments and StatefulSets: operator-restore --scale-down. */
  apps: AppsV1Api;
  /** The namespace this identity lives in: the service account's, else the kubeconfig context's. */
  homeNamespace: string;
}

/** $KUBECONFIG, ~/.kube/config, or the in-cluster service account: the same binary for all three. */
export function connectKube(): Kube {
  const config = new KubeConfig();
  config.loadFromDefault();
  if (!config.getCurrentCluster()) {
    throw new KkError("kubernetes: no cluster found; set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account", ExitCode.usage);
  }
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    batch: config.makeApiClient(BatchV1Api),
    apps: config.makeApiClient(AppsV1Api),
    homeNamespace: serviceAccountNamespace() ?? config.getContextObject(config.getCurrentContext())?.namespace ?? "default",
  };
}

function serviceAccountNamespace(): string | undefined {
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The API's own message for a failed call (client-node puts the Status JSON text in .body). */
export function apiErrorMessage(error: unknown): string {
  if (error instanceof ApiException) {
    try {
      const status = JSON.parse(String(error.body)) as { message?: string };
      if (status.message) return `${status.message} (HTTP ${error.code})`;
    } catch {
      // not JSON
    }
    return `HTTP ${error.code}`;
  }
  // client-node's Watch reports an HTTP error as an Error with the status text and `statusCode`.
  if (error instanceof Error) return httpStatusOf(error) ? `${error.message} (HTTP ${httpStatusOf(error)})` : error.message;
  // A failed WebSocket upgrade (pods/exec) rejects with an ErrorEvent, not an Error.
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}

export const isNotFound = (error: unknown) => error instanceof ApiException && error.code === 404;

/** The HTTP status of a failed call: an ApiException's code, or the statusCode on a Watch's Error. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === "number" ? statusCode : undefined;
}

/**
 * 401, 403 and 404 do not go away by asking again: the error that ends the run, naming what is
 * missing. Undefined for anything worth retrying (5xx, 429, a dropped connection).
 */
export function permanentApiError(error: unknown, verb: string, resource: string, group: string, namespace?: string): KkError | undefined {
  const status = httpStatusOf(error);
  const what = apiFailure(error, verb, resource, namespace);
  const inGroup = group ? `API group ${group}` : "the core API group";
  if (status === 403) return new KkError(`${what}; give this identity the '${verb}' verb on ${resource} in ${inGroup} (deploy/rbac.yaml has every right operator-backup needs, deploy/restore/rbac.yaml operator-restore's${namespace ? "; with --namespace, a Role in each namespace is enough" : ""})`, ExitCode.failed);
  if (status === 401) return new KkError(`${what}; the API server does not accept these credentials: renew the token or check the kubeconfig`, ExitCode.failed);
  if (status === 404) return new KkError(`${what}; this API server does not serve ${resource} in ${inGroup}`, ExitCode.failed);
  return undefined;
}

const apiFailure = (error: unknown, verb: string, resource: string, namespace?: string) =>
  `cannot ${verb} ${resource} in ${namespace ? `namespace ${namespace}` : "all namespaces"}: ${apiErrorMessage(error).replace(/\s+/g, " ")}`;

/**
 * One API call whose failure ends the run: its error as one line naming verb, resource, namespace
 * and status, with the fix for a refusal (exit 1).
 */
export async function apiCall<T>(call: () => Promise<T>, what: { verb: string; resource: string; group?: string; namespace?: string }): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw permanentApiError(error, what.verb, what.resource, what.group ?? "", what.namespace) ?? new KkError(`${apiFailure(error, what.verb, what.resource, what.namespace)}; try again later`, ExitCode.failed);
  }
}
