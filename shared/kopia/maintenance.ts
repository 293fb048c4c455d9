import { usageError } from "../exit-codes.ts";
import { log } from "../log.ts";
import { assertKopiaSucceeded, kopiaErrorMessage, runKopia, type KopiaContext } from "./run.ts";
import type { Sample } from "../metrics.ts";

export function parseOwner(value: string): { username: string; hostname: string } {
  const match = /^([A-Za-z0-9][\w.-]*)@([A-Za-z0-9][\w.-]*)$/.exec(value);
  if (!match) throw usageError(`--owner: '${value}' must be user@host, e.g. maintenance@kopia-k8s`);
  return { username: match[1]!, hostname: match[2]! };
}

export interface MaintenanceInfo {
  owner: string;
  fullDue: boolean;
}

/** `kopia maintenance info --json`: who owns maintenance and whether full maintenance is due. */
export async function readMaintenanceInfo(kopia: KopiaContext, now = new Date()): Promise<MaintenanceInfo> {
  const result = await runKopia(kopia, ["maintenance", "info", "--json"]);
  assertKopiaSucceeded(kopia, result, "reading maintenance info");
  const info = JSON.parse(result.stdout) as { owner?: string; full?: { enabled?: boolean }; schedule?: { nextFullMaintenance?: string } };
  const nextFull = info.schedule?.nextFullMaintenance ? Date.parse(info.schedule.nextFullMaintenance) : 0;
  return { owner: info.owner ?? "", fullDue: info.full?.enabled !== false && nextFull <= now.getTime() };
}

/** Takes maintenance ownership only when another identity holds it (a write to the repository). */
export async function ensureMaintenanceOwner(kopia: KopiaContext, currentOwner: string): Promise<void> {
  const me = `${kopia.username}@${kopia.hostname}`;
  if (currentOwner === me) return;
  const result = await runKopia(kopia, ["maintenance", "set", "--owner=me"]);
  assertKopiaSucceeded(kopia, result, `taking maintenance ownership from ${currentOwner || "nobody"}`);
  log.info(`took maintenance ownership from ${currentOwner || "nobody"}; owner is now ${me}`);
}

export interface MaintenanceOutcome {
  kind: "quick" | "full";
  repository: string;
  ok: boolean;
  durationSeconds: number;
  endTime: string;
  error?: string;
}

export async function runMaintenance(kopia: KopiaContext, { full }: { full: boolean }): Promise<MaintenanceOutcome> {
  const startedAt = Date.now();
  const result = await runKopia(kopia, ["maintenance", "run", ...(full ? ["--full"] : [])], (line) => log.debug(`kopia: ${line}`));
  const endedAt = Date.now();
  return {
    kind: full ? "full" : "quick",
    repository: kopia.repository.url,
    ok: result.exitCode === 0,
    durationSeconds: Math.round(endedAt - startedAt) / 1000,
    endTime: new Date(endedAt).toISOString(),
    ...(result.exitCode === 0 ? {} : { error: kopiaErrorMessage(result.stderr) }),
  };
}

export function maintenanceMetrics(outcome: MaintenanceOutcome): Sample[] {
  const labels = { kind: outcome.kind, repository: outcome.repository };
  const endedAt = Date.parse(outcome.endTime) / 1000;
  const gauge = (name: string, help: string, value: number): Sample => ({ name: `kopia_k8s_maintenance_${name}`, help, labels, value });
  return [
    gauge("last_run_timestamp_seconds", "End of the last maintenance run of this kind.", endedAt),
    ...(outcome.ok ? [gauge("last_success_timestamp_seconds", "End of the last successful maintenance of this kind.", endedAt)] : []),
    gauge("success", "1 if the last maintenance run of this kind succeeded, else 0.", outcome.ok ? 1 : 0),
    gauge("duration_seconds", "Wall time of the last maintenance run of this kind.", outcome.durationSeconds),
  ];
}
