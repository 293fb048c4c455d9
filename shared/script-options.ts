import { configureLog, parseLogFormat, registerSecret, SECRET_ENV_VARS } from "./log.ts";
import { validatePushgatewayUrl } from "./metrics.ts";
import { readOptions, toggle, valueOption } from "./option-table.ts";

/** How every script logs. Read before any other option, so that their errors come in the asked format. */
export const loggingOptions = {
  logFormat: valueOption((value) => parseLogFormat(value))({ flag: "--log-format <format>", env: "KK_LOG_FORMAT", help: "text or json", default: "text" }),
  debug: toggle({ flag: "--debug", env: "KK_DEBUG", help: "Log debug details, kopia's own output included" }),
};

export const pushgatewayOption = valueOption((value) => validatePushgatewayUrl(value)!)({
  flag: "--pushgateway-url <url>",
  env: "KK_PUSHGATEWAY_URL",
  help: "Push metrics to this Prometheus Pushgateway",
});

/** Masks every secret of the environment, then sets the log format and level the flags ask for. */
export function startLogging(flags: Record<string, unknown>, output: { stderrOnly?: boolean } = {}) {
  for (const name of SECRET_ENV_VARS) registerSecret(process.env[name]);
  const logging = readOptions(flags, loggingOptions);
  configureLog({ format: logging.logFormat, debug: logging.debug, ...output });
  return logging;
}
