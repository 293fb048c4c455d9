import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

/** An htpasswd line in the {SHA} form, which rclone's WebDAV server reads. */
const htpasswdLine = (user: string, password: string) => `${user}:{SHA}${createHash("sha1").update(password).digest("base64")}\n`;

/**
 * A real WebDAV server (`rclone serve webdav`) on 127.0.0.1, serving a fresh folder to one user.
 * The password sits in an htpasswd file, not in the server's argv. setPassword rewrites that file
 * and restarts the server on the same port and folder, as a rotated credential would look.
 */
export async function startWebdav() {
  const dir = await tempDir("kk-webdav-");
  const root = join(dir, "root");
  const htpasswd = join(dir, "htpasswd");
  const port = freePort();
  const user = "kopiak8s";
  let password = `dav-secret-${crypto.randomUUID()}`;
  let server: Bun.Subprocess | undefined;
  const start = async () => {
    await writeFile(htpasswd, htpasswdLine(user, password), { mode: 0o600 });
    server = startDaemon(["rclone", "serve", "webdav", root, "--addr", `127.0.0.1:${port}`, "--htpasswd", htpasswd, "--config", join(dir, "rclone.conf")]);
    await waitFor("rclone serve webdav", async () => (await fetch(`http://127.0.0.1:${port}/`)).status === 401);
  };
  const stop = async () => {
    server?.kill("SIGTERM");
    await server?.exited;
  };
  await Bun.write(join(root, ".keep"), "");
  await start();
  return {
    port,
    root,
    user,
    get password() {
      return password;
    },
    /**
     * kopia's webdav storage creates no base folder, as no backend creates a bucket. Made through
     * the server: rclone caches folder listings, and would not see a folder made on its disk.
     */
    makeFolder: async (path: string) => {
      const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      const response = await fetch(`http://127.0.0.1:${port}/${path}`, { method: "MKCOL", headers: { authorization } });
      if (response.status !== 201) throw new Error(`MKCOL ${path}: ${response.status}`);
    },
    /** e.g. webdav+http://127.0.0.1:port/kopia */
    url: (path: string) => `webdav+http://127.0.0.1:${port}/${path}`,
    env: () => ({ KOPIA_WEBDAV_USERNAME: user, KOPIA_WEBDAV_PASSWORD: password }),
    setPassword: async (newPassword: string) => {
      await stop();
      password = newPassword;
      await start();
    },
    stop,
  };
}
export type Webdav = Awaited<ReturnType<typeof startWebdav>>;
