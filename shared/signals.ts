/**
 * An AbortSignal that the first SIGINT or SIGTERM aborts, its reason the signal's name. A script
 * hands it to everything that can be stopped; `again` decides what a second signal does.
 */
export function abortOnSignals(handlers: { first: (received: NodeJS.Signals) => void; again?: (received: NodeJS.Signals) => void }): AbortSignal {
  const controller = new AbortController();
  const onSignal = (received: NodeJS.Signals) => {
    if (controller.signal.aborted) return handlers.again?.(received);
    handlers.first(received);
    controller.abort(received);
  };
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  return controller.signal;
}

/** The signal that aborted, for exit codes and messages. */
export const receivedSignal = (signal: AbortSignal): NodeJS.Signals | undefined => (signal.aborted ? (signal.reason as NodeJS.Signals) : undefined);
