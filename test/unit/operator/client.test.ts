import { describe, expect, test } from "bun:test";
import { ApiException } from "@kubernetes/client-node";
import { ExitCode } from "../../../shared/exit-codes.ts";
import { permanentApiError } from "../../../shared/operator/client.ts";

/** What client-node's Watch hands its done callback for an HTTP error. */
const watchError = (statusCode: number, text: string) => Object.assign(new Error(text), { statusCode });
const apiException = (code: number, message: string) => new ApiException(code, "", JSON.stringify({ kind: "Status", message, code }), {});

describe("permanentApiError: which API errors end the run", () => {
  test("a refused watch (403, as client-node's Watch reports it) names the verb and resource to grant, exit 1", () => {
    const error = permanentApiError(watchError(403, "Forbidden"), "watch", "jobs", "batch");
    expect(error?.exitCode).toBe(ExitCode.failed);
    expect(error?.message).toBe("cannot watch jobs in all namespaces: Forbidden (HTTP 403); give this identity the 'watch' verb on jobs in API group batch (deploy/rbac.yaml has every right operator-backup needs, deploy/restore/rbac.yaml operator-restore's)");
  });

  test("a refused list keeps the API server's own words", () => {
    const error = permanentApiError(apiException(403, 'jobs.batch is forbidden: User "x" cannot list resource "jobs"'), "list", "jobs", "batch");
    expect(error?.message).toStartWith('cannot list jobs in all namespaces: jobs.batch is forbidden: User "x" cannot list resource "jobs" (HTTP 403); give this identity the \'list\' verb');
  });

  test("401 and 404 are permanent too, each with its own fix", () => {
    expect(permanentApiError(watchError(401, "Unauthorized"), "watch", "jobs", "batch")?.message).toContain("does not accept these credentials");
    expect(permanentApiError(apiException(404, "not found"), "list", "jobs", "batch")?.message).toContain("does not serve jobs in API group batch");
  });

  test("in one namespace: says which, and that a Role there is enough; the core group by name", () => {
    const error = permanentApiError(apiException(403, "pods is forbidden"), "list", "pods", "", "team-a");
    expect(error?.message).toBe("cannot list pods in namespace team-a: pods is forbidden (HTTP 403); give this identity the 'list' verb on pods in the core API group (deploy/rbac.yaml has every right operator-backup needs, deploy/restore/rbac.yaml operator-restore's; with --namespace, a Role in each namespace is enough)");
  });

  test("5xx, 429, 410 and dropped connections are retried, not fatal", () => {
    for (const error of [watchError(503, "Service Unavailable"), apiException(429, "slow down"), apiException(500, "etcd"), watchError(410, "Gone"), new Error("ECONNREFUSED"), undefined, null, "text"]) {
      expect(permanentApiError(error, "watch", "jobs", "batch")).toBeUndefined();
    }
  });
});
