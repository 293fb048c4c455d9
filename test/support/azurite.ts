import { createHmac } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

const ACCOUNT = "kopiak8s";
const API_VERSION = "2021-12-02";
const newKey = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");

/**
 * A real Azurite blob service on 127.0.0.1 over HTTPS (kopia's azure storage speaks only https),
 * with its own CA and one account. kopia reaches an account at `<account>.<storage-domain>`, so the
 * domain is `blob.localhost:<port>`, and commands that talk to it run with `inHostsNamespace`,
 * which resolves `<account>.blob.localhost` to 127.0.0.1 for them alone.
 * setKey restarts the server on the same port and data with only a new account key (a rotation).
 */
export async function startAzurite() {
  const dir = await tempDir("kk-azurite-");
  const data = join(dir, "data");
  const cert = join(dir, "cert.pem");
  const certKey = join(dir, "key.pem");
  const openssl = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", certKey, "-out", cert, "-days", "2", "-subj", "/CN=azurite", "-addext", "subjectAltName=DNS:*.blob.localhost,IP:127.0.0.1"],
    { stderr: "pipe" },
  );
  if (openssl.exitCode !== 0) throw new Error(`openssl failed: ${openssl.stderr}`);
  const hostsFile = join(dir, "hosts");
  await writeFile(hostsFile, `${await readFile("/etc/hosts", "utf8")}\n127.0.0.1 ${ACCOUNT}.blob.localhost\n`);
  const port = freePort();
  const ca = await Bun.file(cert).text();
  let key = newKey();
  let server: Bun.Subprocess | undefined;

  /** A request signed with the account key (SharedKey), to the path-style URL Azurite also serves. */
  const request = async (method: string, path: string, query: Record<string, string>) => {
    const headers: Record<string, string> = { "x-ms-date": new Date().toUTCString(), "x-ms-version": API_VERSION };
    const canonicalHeaders = Object.keys(headers).sort().map((name) => `${name}:${headers[name]}\n`).join("");
    const canonicalQuery = Object.keys(query).sort().map((name) => `\n${name}:${query[name]}`).join("");
    const stringToSign = `${method}\n\n\n\n\n\n\n\n\n\n\n\n${canonicalHeaders}/${ACCOUNT}/${ACCOUNT}/${path}${canonicalQuery}`;
    headers.authorization = `SharedKey ${ACCOUNT}:${createHmac("sha256", Buffer.from(key, "base64")).update(stringToSign).digest("base64")}`;
    const url = `https://127.0.0.1:${port}/${ACCOUNT}/${path}?${new URLSearchParams(query)}`;
    const response = await fetch(url, { method, headers, tls: { ca } });
    const body = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${body}`);
    return body;
  };
  const start = async () => {
    server = startDaemon(
      ["azurite-blob", "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", data, "--cert", cert, "--key", certKey, "--silent", "--disableTelemetry"],
      { AZURITE_ACCOUNTS: `${ACCOUNT}:${key}` },
    );
    await waitFor("azurite", async () => (await fetch(`https://127.0.0.1:${port}/`, { tls: { ca } })).status > 0);
  };
  const stop = async () => {
    server?.kill("SIGTERM");
    await server?.exited;
  };
  await start();
  return {
    account: ACCOUNT,
    storageDomain: `blob.localhost:${port}`,
    data,
    get key() {
      return key;
    },
    /** kopia finds the server's CA through SSL_CERT_FILE (Go's standard TLS roots). */
    env: () => ({ AZURE_STORAGE_ACCOUNT: ACCOUNT, AZURE_STORAGE_KEY: key, SSL_CERT_FILE: cert }),
    /** The command, run in its own mount namespace where /etc/hosts names the account's host. */
    inHostsNamespace: (command: string[]) => ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, ...command],
    createContainer: (container: string) => request("PUT", container, { restype: "container" }),
    /** Blob names with sizes. */
    listBlobs: async (container: string) => {
      const xml = await request("GET", container, { comp: "list", restype: "container" });
      return [...xml.matchAll(/<Name>([^<]+)<\/Name>.*?<Content-Length>(\d+)<\/Content-Length>/gs)].map((m) => ({ name: m[1]!, size: Number(m[2]) }));
    },
    setKey: async (rotated = newKey()) => {
      await stop();
      key = rotated;
      await start();
    },
    newKey,
    stop,
  };
}
export type Azurite = Awaited<ReturnType<typeof startAzurite>>;
