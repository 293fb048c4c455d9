import { log } from "../log.ts";
import type { Kube } from "./client.ts";
import { createJobPool, type JobOutcome } from "./job-pool.ts";
import { buildRepositoryJob, runLabels, type JobSettings, type RepositoryJobPlacement } from "./job-spec.ts";
import type { OperatorSettings } from "./operator-backup-options.ts";
import type { BackupTarget } from "./plan.ts";
import { withSpinner } from "./progress.ts";

const JOB_NAME = { init: "kopia-init", maintenance: "kopia-maintenance" } as const;
const DOING = { init: "making sure the repository exists", maintenance: "running kopia-maintenance" } as const;

/** Where init and maintenance run: --maintenance-namespace, else this identity's own namespace. */
export const maintenanceNamespaceOf = (kube: Kube, settings: Pick<OperatorSettings, "maintenanceNamespace">) => settings.maintenanceNamespace ?? kube.homeNamespace;

/**
 * Runs one kopia-maintenance Job in the maintenance namespace, with the same Secret hand-over as
 * the backups: `init` before them (connects, or creates the repository on empty storage),
 * `maintenance` after. A filesystem repository is a node's folder: the Job is placed as the first
 * backup is. Resolves with its outcome (cancelled when `signal` aborts).
 */
export async function runRepositoryJob(
  kube: Kube,
  settings: OperatorSettings,
  jobSettings: JobSettings,
  { role, firstBackup, signal }: { role: "init" | "maintenance"; firstBackup: BackupTarget | undefined; signal: AbortSignal },
): Promise<JobOutcome | undefined> {
  const namespace = maintenanceNamespaceOf(kube, settings);
  const placement: RepositoryJobPlacement = settings.repository.localPath && firstBackup ? firstBackup : {};
  const job = buildRepositoryJob(`${JOB_NAME[role]}-${settings.runId}`, namespace, role, jobSettings, placement);
  const pool = createJobPool(kube, [{ job, target: role }], {
    concurrency: 1,
    pendingTimeoutMs: settings.pendingTimeoutMs,
    watchTimeoutSeconds: settings.watchTimeoutSeconds,
    selector: Object.entries(runLabels(settings.runId, role)).map(([key, value]) => `${key}=${value}`).join(","),
    namespaced: true,
    ...(settings.userSecretName ? {} : { secretData: settings.secretData }),
    signal,
  });
  log.info(`${DOING[role]}: Job ${namespace}/${job.metadata!.name}${placement.node ? ` on node ${placement.node}` : ""}`);
  const outcome = await withSpinner(`${DOING[role]}…`, async () => {
    let last: JobOutcome | undefined;
    for await (const ended of pool.outcomes()) last = ended;
    return last;
  });
  if (outcome?.result === "success") log.success(role === "init" ? "the repository is ready" : "maintenance succeeded");
  else log.error(`${role === "init" ? "the repository Job" : "maintenance"} ${outcome?.result ?? "failed"}: ${outcome?.message ?? ""}`);
  return outcome;
}
