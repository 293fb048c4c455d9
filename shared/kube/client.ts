import { ApiException, BatchV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { ExitCode, KkError } from "../exit-codes.ts";

export interface Kube {
  config: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
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
  if (error instanceof Error) return error.message;
  // A failed WebSocket upgrade (pods/exec) rejects with an ErrorEvent, not an Error.
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}

export const isNotFound = (error: unknown) => error instanceof ApiException && error.code === 404;
