import type { Kube } from "./client.ts";
import { createJobPool, type JobOutcome } from "./job-pool.ts";
import { buildMaintenanceJob, runLabels, type JobSettings } from "./job-spec.ts";
import type { OperatorSettings } from "./operator-options.ts";

/** kopia-maintenance as one Job after the backups, in the maintenance namespace, with the same Secret hand-over. */
export function maintenanceJobPool(kube: Kube, settings: OperatorSettings, jobSettings: JobSettings) {
  const { log } = settings;
  const namespace = settings.maintenanceNamespace ?? kube.homeNamespace;
  const job = buildMaintenanceJob(`kopia-maintenance-${settings.runId}`, namespace, jobSettings);
  const pool = createJobPool(kube, [job], {
    concurrency: 1,
    pendingTimeoutMs: settings.pendingTimeoutMs,
    watchTimeoutSeconds: settings.watchTimeoutSeconds,
    selector: Object.entries(runLabels(settings.runId, "maintenance")).map(([key, value]) => `${key}=${value}`).join(","),
    ...(settings.userSecretName ? {} : { secretData: settings.secretData }),
    log,
  });
  return {
    cancel: () => pool.cancel(),
    async run(): Promise<JobOutcome | undefined> {
      log.info(`running kopia-maintenance as Job ${namespace}/${job.metadata!.name}`);
      const [outcome] = await pool.run();
      if (outcome?.result === "succeeded") log.success("maintenance succeeded");
      else log.error(`maintenance ${outcome?.result ?? "failed"}: ${outcome?.message ?? ""}`);
      return outcome;
    },
  };
}
