import { ExitCode } from "../exit-codes.ts";
import { log } from "../log.ts";
import { abortOnSignals, receivedSignal } from "../signals.ts";
import { LABEL_RUN_ID } from "./names.ts";

const exitCodeOf = (received: NodeJS.Signals) => (received === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm);

/**
 * An operator run's SIGINT/SIGTERM: the first starts nothing new and deletes the run's unfinished
 * Jobs (through the pools that hold the signal); a second exits at once, naming what to clean up.
 * `stopped()` logs and returns the exit code (130/143).
 */
export function runSignals(runId: string) {
  const signal = abortOnSignals({
    first: (received) => log.warn(`${received} received: starting nothing new, deleting this run's unfinished Jobs (again to exit at once)`),
    again: (received) => {
      log.warn(`${received} again: exiting now; remove what this run leaves with: kubectl delete jobs,secrets -A -l ${LABEL_RUN_ID}=${runId}`);
      process.exit(exitCodeOf(received));
    },
  });
  const stopped = () => {
    const received = receivedSignal(signal)!;
    log.warn(`run ${runId} stopped by ${received}: exit ${exitCodeOf(received)}`);
    return exitCodeOf(received);
  };
  return { signal, stopped };
}
