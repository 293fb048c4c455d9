#!/usr/bin/env bun
/**
 * kopia-maintenance: run Kopia repository maintenance under one fixed owner.
 * Backups run with --no-auto-maintenance under per-volume identities; this script connects as
 * the maintenance owner, takes ownership only when another identity holds it, and runs quick
 * maintenance, or full maintenance when it is due or asked for.
 */
import { createCli, runCli } from "../shared/cli.ts";
import { ExitCode, KkError } from "../shared/exit-codes.ts";
import { connectOrCreate } from "../shared/kopia/connect.ts";
import { kopiaContext } from "../shared/kopia/context.ts";
import { kopiaMaintenanceOptions } from "../shared/kopia/kopia-maintenance-options.ts";
import { ensureMaintenanceOwner, maintenanceMetrics, readMaintenanceInfo, runMaintenance } from "../shared/kopia/maintenance.ts";
import { log } from "../shared/log.ts";
import { publishMetrics } from "../shared/metrics.ts";
import { declareOptions, readOptions } from "../shared/option-table.ts";
import { startLogging } from "../shared/script-options.ts";
import { abortOnSignals } from "../shared/signals.ts";

const cli = createCli("kopia-maintenance");
const command = cli.command("", "Run Kopia maintenance as the fixed maintenance owner");
declareOptions(command, kopiaMaintenanceOptions);

command.action(async (flags: Record<string, unknown>) => {
  startLogging(flags);
  const settings = readOptions(flags, kopiaMaintenanceOptions);
  const signal = abortOnSignals({ first: (received) => log.warn(`${received} received: stopping maintenance`) });
  const kopia = kopiaContext(settings, settings.owner, signal);

  const connection = await connectOrCreate(kopia, { allowCreate: settings.init });
  if (settings.init) {
    log.success(`repository ${connection === "created" ? "created" : "ready"}: ${kopia.repository.url}`);
    return ExitCode.ok;
  }
  const info = await readMaintenanceInfo(kopia);
  await ensureMaintenanceOwner(kopia, info.owner);
  const full = settings.full || info.fullDue;
  log.info(`running ${full ? "full" : "quick"} maintenance of ${kopia.repository.url} as ${kopia.username}@${kopia.hostname}`);

  const outcome = await runMaintenance(kopia, { full });
  if (signal.aborted && !outcome.ok) throw new KkError(`${outcome.kind} maintenance cancelled`, ExitCode.incomplete);
  await publishMetrics(settings, "kopia_k8s_maintenance", kopia.repository.url, maintenanceMetrics(outcome), (message) => log.warn(message));
  if (!outcome.ok) throw new KkError(`${outcome.kind} maintenance failed after ${outcome.durationSeconds}s: ${outcome.error}`, ExitCode.failed);
  log.success(`${outcome.kind} maintenance finished in ${outcome.durationSeconds}s`, { ...outcome });
  return ExitCode.ok;
});

await runCli(cli);
