import { homedir } from "node:os";
import { join } from "node:path";
import { absolutePath, positiveInteger, text, valueOption } from "../option-table.ts";
import { isAbsolutePath } from "../options.ts";
import { usageError } from "../exit-codes.ts";
import { repositoryOption } from "../repository.ts";
import { loggingOptions, pushgatewayOption } from "../script-options.ts";

const cacheBase = () => process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
const configBase = () => process.env.XDG_CONFIG_HOME || join(homedir(), ".config");

/** An absolute folder without trailing slashes. */
const folder = valueOption((value, field) => {
  if (!isAbsolutePath(value)) throw usageError(`${field}: '${value}' must be an absolute path`);
  return value.replace(/\/+$/, "") || "/";
});

/** Options every kopia script takes: where the repository is, where kopia keeps state, where results go. */
export const kopiaOptions = {
  repository: repositoryOption("filesystem:///srv/backups"),
  configPath: folder({
    flag: "--config-path <dir>",
    env: "KK_CONFIG_PATH",
    help: "Parent folder of kopia's connection configs, one folder per repository",
    default: () => join(configBase(), "kopia-k8s"),
    defaultHelp: "~/.config/kopia-k8s",
  }),
  cachePath: folder({
    flag: "--cache-path <dir>",
    env: "KK_KOPIA_CACHE_PATH",
    help: "Parent folder of kopia's caches, one folder per repository",
    default: () => join(cacheBase(), "kopia-k8s", "cache"),
    defaultHelp: "~/.cache/kopia-k8s/cache",
  }),
  cacheSizeMB: positiveInteger({
    flag: "--cache-size-mb <n>",
    env: "KK_KOPIA_CACHE_SIZE_MB",
    help: "Most MiB kopia's cache of this repository may hold, half for contents, half for metadata",
    defaultHelp: "kopia's 5000 each, and 5000 as the contents' hard limit",
  }),
  logPath: folder({
    flag: "--log-path <dir>",
    env: "KK_KOPIA_LOG_PATH",
    help: "Parent folder of kopia's own log files, one folder per repository",
    default: () => join(cacheBase(), "kopia-k8s", "logs"),
    defaultHelp: "~/.cache/kopia-k8s/logs",
  }),
  kopiaPath: text({ flag: "--kopia-path <file>", env: "KK_KOPIA_PATH", help: "kopia binary", default: "kopia", defaultHelp: "kopia on PATH" }),
  pushgatewayUrl: pushgatewayOption,
  metricsFile: absolutePath({
    flag: "--metrics-file <file>",
    env: "KK_METRICS_FILE",
    help: "Write metrics atomically to this node_exporter textfile",
    example: "/var/lib/node_exporter/kopia.prom",
  }),
  ...loggingOptions,
};
