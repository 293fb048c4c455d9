import { join } from "node:path";
import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

/**
 * A real fake-gcs-server on 127.0.0.1 (plain http), storing objects in a folder. kopia's gcs
 * storage reaches it through STORAGE_EMULATOR_HOST, the switch of Google's Go client library;
 * with it set the library sends no credentials at all, so this server cannot tell a wrong one.
 */
export async function startFakeGcs() {
  const root = join(await tempDir("kk-gcs-"), "root");
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  startDaemon(["fake-gcs-server", "-backend", "filesystem", "-filesystem-root", root, "-host", "127.0.0.1", "-port", String(port), "-scheme", "http", "-public-host", `127.0.0.1:${port}`, "-external-url", endpoint, "-log-level", "warn"]);
  await waitFor("fake-gcs-server", async () => (await fetch(`${endpoint}/storage/v1/b`)).ok);
  return {
    root,
    env: { STORAGE_EMULATOR_HOST: endpoint },
    createBucket: async (bucket: string) => {
      const response = await fetch(`${endpoint}/storage/v1/b`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: bucket }) });
      if (!response.ok) throw new Error(`create bucket ${bucket}: ${response.status} ${await response.text()}`);
    },
  };
}
