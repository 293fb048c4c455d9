import { describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KkError } from "../../shared/exit-codes.ts";
import { backupVolumes, kopiaBackupOptions } from "../../shared/kopia/kopia-backup-options.ts";
import { parseVolumes } from "../../shared/kopia/volumes.ts";
import { readOptions } from "../../shared/option-table.ts";
import { tempDir } from "../support/processes.ts";
import { isolateEnv, usageErrorOf } from "../support/unit.ts";

isolateEnv((name) => name.startsWith("KK_"));

const json = (value: unknown) => JSON.stringify(value);

describe("parseVolumes: the --volumes JSON", () => {
  test("path, username and optional tags, in order", () => {
    expect(parseVolumes(json([{ path: "/volumes/0", username: "data", tags: ["k8s-size:1Gi", "k8s-access-modes:ReadWriteOnce"] }, { path: "/volumes/1", username: "www-web-0" }]))).toEqual([
      { path: "/volumes/0", username: "data", tags: ["k8s-size:1Gi", "k8s-access-modes:ReadWriteOnce"] },
      { path: "/volumes/1", username: "www-web-0", tags: [] },
    ]);
  });

  test.each([
    ["bad JSON", "[{path:/volumes/0}]", /^--volumes: not valid JSON \(.*\); give an array such as \[\{"path":"\/volumes\/0","username":"data"/],
    ["an empty array", "[]", /^--volumes: give a non-empty JSON array of volumes, e.g. \[/],
    ["an object, not an array", json({ path: "/v", username: "u" }), /^--volumes: give a non-empty JSON array of volumes/],
    ["a volume that is not an object", json(["/volumes/0"]), /^--volumes: volume 1 is not an object; give \{"path":…,"username":…\}/],
    ["a missing path", json([{ path: "/v/0", username: "a" }, { username: "b" }]), /^--volumes: volume 2 has no "path"; give the folder to back up, e.g. \[/],
    ["a relative path", json([{ path: "volumes/0", username: "a" }]), /^--volumes: volume 1: path 'volumes\/0' must be an absolute path, e.g. \/volumes\/0$/],
    ["a missing username", json([{ path: "/v/0" }]), /^--volumes: volume 1 has no "username"; give its Kopia identity user \(the PVC's name\)/],
    ["a username with a slash", json([{ path: "/v/0", username: "ns/pvc" }]), /^--volumes: volume 1: username 'ns\/pvc' may hold only letters, digits, '.', '_' and '-'$/],
    ["a duplicate username", json([{ path: "/v/0", username: "data" }, { path: "/v/1", username: "logs" }, { path: "/v/2", username: "data" }]), /^--volumes: username 'data' is given to volumes 1 and 3; give each volume its own, or their snapshots would mix in one Kopia source$/],
    ["an unknown field", json([{ path: "/v/0", username: "a", tag: ["x:y"] }]), /^--volumes: volume 1: unknown field 'tag'; a volume has only "path", "username" and "tags"$/],
    ["tags that are not a list", json([{ path: "/v/0", username: "a", tags: "x:y" }]), /^--volumes: volume 1 \(a\): "tags" must be an array of "key:value" strings/],
    ["a tag without key:value", json([{ path: "/v/0", username: "a", tags: ["nightly"] }]), /^--volumes: volume 1 \(a\): tag 'nightly' must be key:value, e.g. app:nextcloud$/],
    ["51 volumes", json(Array.from({ length: 51 }, (_, index) => ({ path: `/v/${index}`, username: `v${index}` }))), /^--volumes: 51 volumes; at most 50 per run \(the summary must fit a 4 KiB termination message\)/],
  ])("%s: one usage error naming --volumes and the fix", (_, text, message) => {
    const error = usageErrorOf(() => parseVolumes(text));
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });

  test("KK_VOLUMES is read like the flag", () => {
    process.env.KK_VOLUMES = json([{ path: "/v/0", username: "a" }]);
    expect(readOptions({}, { volumes: kopiaBackupOptions.volumes }).volumes).toEqual([{ path: "/v/0", username: "a", tags: [] }]);
  });
});

describe("backupVolumes: not with --path or --username, every folder there", () => {
  const volumesIn = async (dir: string) => {
    await mkdir(join(dir, "a"));
    await mkdir(join(dir, "b"));
    return parseVolumes(json([{ path: join(dir, "a"), username: "a" }, { path: join(dir, "b"), username: "b" }]));
  };

  test("folders that exist pass", async () => {
    const dir = await tempDir("kk-volumes-");
    const volumes = await volumesIn(dir);
    expect(await backupVolumes(volumes, {})).toEqual(volumes);
  });

  test.each([
    ["--path", { path: "/data" }, {}, "--path must not be given with it, each volume has its own \"path\" and \"username\"; remove --path (KK_BACKUP_PATH)"],
    ["--username", { username: "data" }, {}, "--username must not be given with it, each volume has its own \"path\" and \"username\"; remove --username (KK_USERNAME)"],
    ["KK_BACKUP_PATH and KK_USERNAME", {}, { KK_BACKUP_PATH: "/data", KK_USERNAME: "data" }, "--path and --username must not be given with it, each volume has its own \"path\" and \"username\"; remove --path and --username (KK_BACKUP_PATH, KK_USERNAME)"],
  ])("%s: refused", async (_, flags, env, message) => {
    Object.assign(process.env, env);
    const dir = await tempDir("kk-volumes-");
    const error = await backupVolumes(await volumesIn(dir), flags).catch((caught: KkError) => caught);
    expect(error).toBeInstanceOf(KkError);
    expect((error as KkError).exitCode).toBe(2);
    expect((error as KkError).message).toBe(`--volumes: ${message}`);
  });

  test("a missing folder and a file are named with their volume", async () => {
    const dir = await tempDir("kk-volumes-");
    await writeFile(join(dir, "file"), "x");
    const missing = parseVolumes(json([{ path: join(dir, "nope"), username: "gone" }]));
    const file = parseVolumes(json([{ path: dir, username: "ok" }, { path: join(dir, "file"), username: "afile" }]));
    expect((await backupVolumes(missing, {}).catch((error: KkError) => error)) as KkError).toMatchObject({ exitCode: 2, message: `--volumes: volume 1 (gone): '${join(dir, "nope")}' does not exist; mount or create it, or fix the path` });
    expect((await backupVolumes(file, {}).catch((error: KkError) => error)) as KkError).toMatchObject({ exitCode: 2, message: `--volumes: volume 2 (afile): '${join(dir, "file")}' is not a folder; give the folder that holds the data` });
  });
});
