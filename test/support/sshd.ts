import { chmod, chown, copyFile, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

const NOBODY = 65534;

async function keygen(file: string): Promise<string> {
  const run = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kopia-k8s-test", "-f", file], { stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`ssh-keygen failed: ${run.stderr}`);
  return (await Bun.file(`${file}.pub`).text()).trim();
}

/** Answers once the server sends its SSH banner. */
async function sshBanner(address: string, port: number): Promise<boolean> {
  const banner = Promise.withResolvers<boolean>();
  const socket = await Bun.connect({ hostname: address, port, socket: { data: (_, data) => banner.resolve(data.toString().startsWith("SSH-2.0-")), error: () => banner.resolve(false), close: () => banner.resolve(false) } });
  const seen = await Promise.race([banner.promise, Bun.sleep(1000).then(() => false)]);
  socket.end();
  return seen;
}

export interface SshdOptions {
  /** A network namespace (a file holding it, for nsenter --net=) to run sshd in; default this host's. */
  netns?: string;
  /** The address sshd listens on, reachable from this host; default 127.0.0.1. */
  address?: string;
}

/**
 * A real OpenSSH sshd on 127.0.0.1 (or `options.address` in `options.netns`) with its own config
 * and host key, serving SFTP to one user with one authorized key that this function makes. sshd
 * runs as nobody: as root it would need the system's privilege separation user and folder, which
 * exist only where openssh-server is installed.
 */
export async function startSshd(options: SshdOptions = {}) {
  const address = options.address ?? "127.0.0.1";
  const dir = await tempDir("kk-sshd-");
  await chmod(dir, 0o755);
  // A namespace of the test's own has every port free; freePort() only knows this host's loopback.
  const port = options.netns ? 2222 : freePort();
  // The provisioned sshd may sit in root's private home, out of nobody's reach: run a copy.
  const sshd = join(dir, "sshd");
  await copyFile(join(process.env.KK_TOOLS_BIN!, "sshd"), sshd);
  await chmod(sshd, 0o755);
  const hostKey = join(dir, "host_key");
  const hostPublicKey = await keygen(hostKey);
  await chown(hostKey, NOBODY, NOBODY);
  const clientKey = join(dir, "client_key");
  const clientPublicKey = await keygen(clientKey);
  const authorizedKeys = join(dir, "authorized_keys");
  await writeFile(authorizedKeys, `${clientPublicKey}\n`, { mode: 0o644 });
  const repositories = join(dir, "srv");
  await mkdir(repositories);
  await chown(repositories, NOBODY, NOBODY);
  const config = join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `ListenAddress ${address}:${port}`,
      `HostKey ${hostKey}`,
      "PidFile none",
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      // Without PAM, sshd (not root, so unable to read /etc/shadow) takes nobody's account as locked.
      "UsePAM yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "Subsystem sftp internal-sftp",
      "ForceCommand internal-sftp",
      "AllowTcpForwarding no",
      "X11Forwarding no",
    ].join("\n") + "\n",
    { mode: 0o644 },
  );
  const inNetns = options.netns ? ["nsenter", `--net=${options.netns}`] : [];
  const server = startDaemon([...inNetns, "setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", sshd, "-D", "-e", "-f", config]);
  // sshd -e logs every connection to stderr: read it all, so the pipe never fills and blocks sshd.
  let log = "";
  const logRead = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of server.stderr as ReadableStream<Uint8Array>) log += decoder.decode(chunk, { stream: true });
  })();
  await waitFor("sshd", () => sshBanner(address, port)).catch((error) => {
    throw new Error(`${(error as Error).message}\n${log}`);
  });
  const knownHosts = join(dir, "known_hosts");
  await writeFile(knownHosts, `[${address}]:${port} ${hostPublicKey}\n`);
  return {
    address,
    port,
    user: "nobody",
    /** A folder on the server that its user may write. */
    repositories,
    clientKey,
    knownHosts,
    /** A known_hosts that names another key for this server, as after a man in the middle. */
    async foreignKnownHosts(): Promise<string> {
      const file = join(await tempDir("kk-sshd-foreign-"), "known_hosts");
      await writeFile(file, `[${address}]:${port} ${await keygen(join(dirname(file), "other_host_key"))}\n`);
      return file;
    },
    /** A key pair the server does not know. */
    async unknownClientKey(): Promise<string> {
      const file = join(await tempDir("kk-sshd-stranger-"), "client_key");
      await keygen(file);
      return file;
    },
    /** The private key's text: it must never appear in argv or logs. */
    clientKeyText: () => Bun.file(clientKey).text(),
    /** What sshd logged so far (connections, authentications). */
    log: () => log,
    stop: async () => {
      server.kill("SIGTERM");
      await server.exited;
      await logRead;
    },
  };
}
export type Sshd = Awaited<ReturnType<typeof startSshd>>;

