import { usageError } from "../exit-codes.ts";
import { absolutePath, given, text, toggle, valueOption } from "../option-table.ts";
import { retentionOptions, tagsOption } from "../retention.ts";
import { identityPart, machineIdentity } from "./context.ts";
import { kopiaOptions } from "./options.ts";
import { folderProblem, parseVolumes, volumeFolders, type Volume } from "./volumes.ts";

/** Every option of kopia-backup, each declared once. */
export const kopiaBackupOptions = {
  path: absolutePath({ flag: "--path <dir>", env: "KK_BACKUP_PATH", help: "Folder to back up", example: "/data" }),
  volumes: valueOption((value, field) => parseVolumes(value, field))({
    flag: "--volumes <json>",
    env: "KK_VOLUMES",
    help: 'Several folders in one run instead of --path and --username, each its own Kopia source, e.g. [{"path":"/volumes/0","username":"data","tags":["k8s-size:1Gi"]}]',
  }),
  sourcePath: absolutePath({ flag: "--source-path <path>", env: "KK_SOURCE_PATH", help: "Path recorded in Kopia for this source (for every volume)", defaultHelp: "--path (the volume's path)" }),
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
export async function backupFolder(path: string | undefined): Promise<string> {
  if (path === undefined) throw usageError("--path: no folder to back up; set --path or KK_BACKUP_PATH, e.g. --path /data (or --volumes for several)");
  const problem = await folderProblem(path);
  if (problem) throw usageError(`--path: '${path}' ${problem}`);
  return path;
}

/** The --volumes, once --path and --username are known to be absent (each volume has its own) and every folder to exist. */
export async function backupVolumes(volumes: Volume[], flags: Record<string, unknown>): Promise<Volume[]> {
  const { path, username } = kopiaBackupOptions;
  const clashing = [path, username].filter((option) => given(flags, option));
  if (clashing.length > 0) {
    const names = clashing.map((option) => option.flag!.split(" ")[0]).join(" and ");
    const envs = clashing.map((option) => option.env).join(", ");
    throw usageError(`--volumes: ${names} must not be given with it, each volume has its own "path" and "username"; remove ${names} (${envs})`);
  }
  return volumeFolders(volumes);
}
