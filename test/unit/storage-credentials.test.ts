import { describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "../support/processes.ts";
import { credentialsUpdate, syncStorageCredentials } from "../../shared/kopia/storage-credentials.ts";

describe("credentialsUpdate: the environment's credentials are the ones kopia uses", () => {
  test("s3: keys and session token are removed (kopia then reads AWS_* from the environment)", () => {
    const stored = { bucket: "b", endpoint: "h:9000", accessKeyID: "AKIA", secretAccessKey: "old", sessionToken: "tok" };
    expect(credentialsUpdate("s3", stored, { AWS_SECRET_ACCESS_KEY: "new" })).toEqual({ bucket: "b", endpoint: "h:9000", accessKeyID: "", secretAccessKey: "", sessionToken: "" });
  });

  test("s3 without stored keys: nothing to write", () => {
    expect(credentialsUpdate("s3", { bucket: "b", accessKeyID: "", secretAccessKey: "", sessionToken: "" }, {})).toBeUndefined();
    expect(credentialsUpdate("s3", { bucket: "b" }, {})).toBeUndefined();
  });

  test("b2, azure and webdav: fields follow the environment when it sets them", () => {
    expect(credentialsUpdate("b2", { bucket: "b", keyID: "k", key: "old" }, { B2_KEY_ID: "k", B2_KEY: "new" })).toEqual({ bucket: "b", keyID: "k", key: "new" });
    expect(credentialsUpdate("azure", { container: "c", storageAccount: "acc", storageKey: "old" }, { AZURE_STORAGE_KEY: "new" })).toEqual({ container: "c", storageAccount: "acc", storageKey: "new" });
    expect(credentialsUpdate("webdav", { url: "u", username: "me", password: "old" }, { KOPIA_WEBDAV_PASSWORD: "new" })).toEqual({ url: "u", username: "me", password: "new" });
  });

  test("unchanged, or unset in the environment: nothing to write", () => {
    expect(credentialsUpdate("b2", { keyID: "k", key: "same" }, { B2_KEY_ID: "k", B2_KEY: "same" })).toBeUndefined();
    expect(credentialsUpdate("b2", { keyID: "k", key: "kept" }, {})).toBeUndefined();
  });

  test("backends without stored credentials are left alone", () => {
    expect(credentialsUpdate("filesystem", { path: "/srv" }, { AWS_SECRET_ACCESS_KEY: "x" })).toBeUndefined();
    expect(credentialsUpdate("gcs", { bucket: "b" }, {})).toBeUndefined();
  });
});

describe("syncStorageCredentials", () => {
  test("rewrites only the storage fields, keeps the rest of kopia's config, mode 0600", async () => {
    const file = join(await tempDir(), "repository.config");
    const config = { storage: { type: "s3", config: { bucket: "b", accessKeyID: "AKIA", secretAccessKey: "old" } }, caching: { cacheDirectory: "/c" }, hostname: "h" };
    await writeFile(file, JSON.stringify(config));
    await syncStorageCredentials(file, "s3", {});
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ ...config, storage: { type: "s3", config: { bucket: "b", accessKeyID: "", secretAccessKey: "", sessionToken: "" } } });
    expect((await Bun.file(file).stat()).mode & 0o777).toBe(0o600);
  });
});
