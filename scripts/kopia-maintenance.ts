#!/usr/bin/env bun
/**
 * kopia-maintenance: run Kopia repository maintenance under one fixed owner.
 * Backups run with --no-auto-maintenance under per-volume identities; this script connects as
 * the maintenance owner, takes ownership only when another identity holds it, and runs quick
 * maintenance, or full maintenance when it is due or asked for.
 */
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { cancelRunningKopia, connectOrCreate, kopiaCancelRequested } from "../shared/kopia.ts";
import { declareKopiaOptions, resolveCommonSettings, resolveKopiaContext } from "../shared/kopia-options.ts";
import { ensureMaintenanceOwner, maintenanceMetrics, parseOwner, readMaintenanceInfo, runMaintenance } from "../shared/maintenance.ts";
import { publishMetrics } from "../shared/metrics.ts";
import { flagOrEnv, parseBoolean } from "../shared/options.ts";

const cli = createCli("kopia-maintenance");
const command = cli.command("", "Run Kopia maintenance as the fixed maintenance owner");
command
  .option("--owner <user@host>", "Maintenance owner identity (env KK_MAINTENANCE_OWNER) [default: maintenance@kopia-k8s]")
  .option("--full", "Run full maintenance even if it is not due (env KK_MAINTENANCE_FULL)")
  .option("--init", "Only make sure the repository exists: connect, or create it when the storage is empty, and run no maintenance (env KK_MAINTENANCE_INIT; operator-backup's first Job)");
declareKopiaOptions(command);

command.action(async (flags: Record<string, unknown>) => {
  const common = resolveCommonSettings(flags);
  const { log } = common;
  const owner = parseOwner(flagOrEnv(flags.owner, "KK_MAINTENANCE_OWNER") ?? "maintenance@kopia-k8s");
  const forceFull = flags.full === true || parseBoolean(flagOrEnv(undefined, "KK_MAINTENANCE_FULL"), "KK_MAINTENANCE_FULL");
  const initOnly = flags.init === true || parseBoolean(flagOrEnv(undefined, "KK_MAINTENANCE_INIT"), "KK_MAINTENANCE_INIT");
  const kopia = resolveKopiaContext(flags, owner, log);

  const cancel = (signal: NodeJS.Signals) => {
    log.warn(`${signal} received: stopping maintenance`);
    cancelRunningKopia(signal);
  };
  process.on("SIGTERM", cancel).on("SIGINT", cancel);

  const connection = await connectOrCreate(kopia, { allowCreate: initOnly });
  if (initOnly) {
    log.success(`repository ${connection === "created" ? "created" : "ready"}: ${kopia.repository.url}`);
    return ExitCode.ok;
  }
  const info = await readMaintenanceInfo(kopia);
  await ensureMaintenanceOwner(kopia, info.owner);
  const full = forceFull || info.fullDue;
  log.info(`running ${full ? "full" : "quick"} maintenance of ${kopia.repository.url} as ${kopia.username}@${kopia.hostname}`);

  const outcome = await runMaintenance(kopia, full);
  if (kopiaCancelRequested() && !outcome.ok) throw new KkError(`${outcome.kind} maintenance cancelled`, ExitCode.incomplete);
  await publishMetrics(common, "kopia_k8s_maintenance", kopia.repository.url, maintenanceMetrics(outcome), (message) => log.warn(message));
  if (!outcome.ok) throw new KkError(`${outcome.kind} maintenance failed after ${outcome.durationSeconds}s: ${outcome.error}`, ExitCode.failed);
  log.success(`${outcome.kind} maintenance finished in ${outcome.durationSeconds}s`, { ...outcome });
  return ExitCode.ok;
});

await runCli(cli);
