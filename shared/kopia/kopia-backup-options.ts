import { stat } from "node:fs/promises";
import { usageError } from "../exit-codes.ts";
import { absolutePath, text, toggle } from "../option-table.ts";
import { retentionOptions, tagsOption } from "../retention.ts";
import { identityPart, machineIdentity } from "./context.ts";
import { kopiaOptions } from "./options.ts";

/** Every option of kopia-backup, each declared once. */
export const kopiaBackupOptions = {
  path: absolutePath({ flag: "--path <dir>", env: "KK_BACKUP_PATH", help: "Folder to back up", example: "/data", required: "no folder to back up; set --path or KK_BACKUP_PATH, e.g. --path /data" }),
  sourcePath: absolutePath({ flag: "--source-path <path>", env: "KK_SOURCE_PATH", help: "Path recorded in Kopia for this source", defaultHelp: "--path" }),
  hostname: identityPart({ flag: "--hostname <name>", env: "KK_HOSTNAME", help: "Kopia identity host", default: () => machineIdentity().hostname, defaultHelp: "this machine's hostname" }),
  username: identityPart({ flag: "--username <name>", env: "KK_USERNAME", help: "Kopia identity user", default: () => machineIdentity().username, defaultHelp: "the current user" }),
  tags: tagsOption("Tag the snapshot; repeatable, comma-separated in the env"),
  description: text({ flag: "--description <text>", env: "KK_DESCRIPTION", help: "Snapshot description" }),
  ...retentionOptions((unit) => `Retention: keep ${unit} snapshots`),
  summaryFile: absolutePath({ flag: "--summary-file <file>", env: "KK_SUMMARY_FILE", help: "Write the JSON summary here, e.g. /dev/termination-log", example: "/dev/termination-log" }),
  create: toggle({ flag: "--no-create", env: "KK_CREATE", help: "Never create the repository; fail when the storage is empty (operator-backup's Jobs use it)" }),
  ...kopiaOptions,
};

/** The folder to back up, once it is known to exist. */
export async function backupFolder(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw usageError(`--path: '${path}' does not exist; mount or create it, or fix the path`);
  if (!info.isDirectory()) throw usageError(`--path: '${path}' is not a folder; give the folder that holds the data`);
  return path;
}
