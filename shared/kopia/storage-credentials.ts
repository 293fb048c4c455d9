import { readFile, rename, writeFile } from "node:fs/promises";
import type { StorageKind } from "../repository.ts";

/**
 * kopia writes the storage credentials of the environment into its config at connect, and from
 * then on prefers them to the environment: a rotated key or an expired session token would never
 * be picked up. For S3, kopia falls back to AWS_* in the environment (then the instance's IAM role)
 * when the config holds none, so they are removed. The other backends read only the config, so
 * their fields are kept equal to the environment, every run.
 */
const ENV_ONLY: Partial<Record<StorageKind, string[]>> = {
  s3: ["accessKeyID", "secretAccessKey", "sessionToken"],
};
const FROM_ENV: Partial<Record<StorageKind, Record<string, string>>> = {
  b2: { keyID: "B2_KEY_ID", key: "B2_KEY" },
  azure: { storageAccount: "AZURE_STORAGE_ACCOUNT", storageKey: "AZURE_STORAGE_KEY", sasToken: "AZURE_STORAGE_SAS_TOKEN" },
  webdav: { username: "KOPIA_WEBDAV_USERNAME", password: "KOPIA_WEBDAV_PASSWORD" },
};

interface KopiaConfig {
  storage?: { type?: string; config?: Record<string, unknown> };
}

/** The storage fields a config should hold, given the environment; undefined when it already does. */
export function credentialsUpdate(kind: StorageKind, stored: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> | undefined {
  const wanted: Record<string, unknown> = {};
  for (const field of ENV_ONLY[kind] ?? []) wanted[field] = "";
  for (const [field, variable] of Object.entries(FROM_ENV[kind] ?? {})) {
    const value = env[variable];
    if (value) wanted[field] = value;
  }
  const changed = Object.entries(wanted).some(([field, value]) => (stored[field] ?? "") !== value);
  return changed ? { ...stored, ...wanted } : undefined;
}

/** Brings the storage credentials in kopia's config in line with the environment (see above); true when it changed them. */
export async function syncStorageCredentials(configFile: string, kind: StorageKind, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!ENV_ONLY[kind] && !FROM_ENV[kind]) return false;
  const config = JSON.parse(await readFile(configFile, "utf8")) as KopiaConfig;
  const stored = config.storage?.config;
  if (!stored) return false;
  const updated = credentialsUpdate(kind, stored, env);
  if (!updated) return false;
  config.storage!.config = updated;
  const staged = `${configFile}.${process.pid}.tmp`;
  await writeFile(staged, JSON.stringify(config, null, 2), { mode: 0o600 });
  await rename(staged, configFile);
  return true;
}
