import { usageError } from "./exit-codes.ts";
import type { Option } from "./option-table.ts";
import { flagOrEnv, isAbsolutePath, parseBoolean } from "./options.ts";

/** Kopia's storage backends that kopia-k8s maps from a URL. */
export type StorageKind = "filesystem" | "s3" | "b2" | "gcs" | "azure" | "sftp" | "webdav" | "rclone";

/** Where the Kopia repository lives, as Kopia's storage subcommand and flags. Holds no secret. */
export interface Repository {
  /** The URL as the user gave it (credentials are refused, so it is safe to log). */
  url: string;
  kind: StorageKind;
  /**
   * e.g. ["s3", "--bucket=b", "--endpoint=host:9000"]: appended to `kopia repository connect|create`.
   * Every value is joined to its flag, so kopia's parser never reads a value as a flag or an @file.
   */
  storageArgs: string[];
  /** A filesystem repository's folder. */
  localPath?: string;
  /** Files read on the machine that runs kopia (sftp key and known_hosts, a gcs credentials file, rclone's config). */
  keyFiles: KeyFile[];
}

/** A key file under its name: the URL parameter that names it, or `rclone-config` (rclone reads $RCLONE_CONFIG). */
export type KeyFileName = "keyfile" | "known-hosts" | "credentials-file" | "rclone-config";
export interface KeyFile {
  name: KeyFileName;
  path: string;
}

/** The key files each backend can read, by name. */
export const BACKEND_KEY_FILES: Partial<Record<StorageKind, KeyFileName[]>> = {
  sftp: ["keyfile", "known-hosts"],
  gcs: ["credentials-file"],
  rclone: ["rclone-config"],
};

const keyFilesOf = (files: Partial<Record<KeyFileName, string>>): KeyFile[] =>
  Object.entries(files).filter((entry): entry is [KeyFileName, string] => Boolean(entry[1])).map(([name, path]) => ({ name, path }));

const REPOSITORY_URL_FORMS = [
  "filesystem:///abs/path",
  "s3://bucket[/prefix]?endpoint=host:port[&region=r][&insecure=true][&skip-tls-verify=true]",
  "b2://bucket[/prefix]",
  "gcs://bucket[/prefix][?credentials-file=/abs/key.json]",
  "azure://container[/prefix][?storage-domain=host[:port]]",
  "sftp://user@host[:port]/path[?keyfile=/abs/key&known-hosts=/abs/known_hosts]",
  "webdav+https://host/path (or webdav+http://)",
  "rclone:remote:path",
];

const fix = `use one of: ${REPOSITORY_URL_FORMS.join(", ")}`;

/** rclone connection-string parameters that carry credentials (`remote,secret_access_key=…:path`). */
const RCLONE_SECRET_PARAMETER = /key|secret|pass|token|auth|cred|client_id/i;

/** Maps a repository URL to Kopia storage flags. Secrets are never accepted here: only from env. */
export function parseRepositoryUrl(url: string): Repository {
  if (url.startsWith("rclone:")) return parseRcloneUrl(url);

  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--repository: '${url}' is not a URL; ${fix}`);
  }
  if (parsed.password || (parsed.username && parsed.protocol !== "sftp:")) {
    throw usageError(
      `--repository: the URL must not hold credentials; pass them in the environment (AWS_*, B2_*, AZURE_*, KOPIA_WEBDAV_*)`,
    );
  }
  const scheme = parsed.protocol.slice(0, -1);
  const query = queryReader(parsed, url);
  const decode = (text: string) => decodeUrlPart(text, url);
  const bucketAndPrefix = () => {
    if (!parsed.hostname) throw usageError(`--repository: '${url}' names no bucket; e.g. ${scheme}://my-bucket/prefix`);
    const prefix = decode(parsed.pathname).replace(/^\/+|\/+$/g, "");
    return { bucket: parsed.hostname, prefixArgs: prefix ? [flag("prefix", `${prefix}/`)] : [] };
  };

  let repository: Omit<Repository, "url">;
  switch (scheme) {
    case "filesystem": {
      const path = decode(parsed.pathname).replace(/\/+$/, "");
      if (parsed.host || !isAbsolutePath(path)) {
        throw usageError(`--repository: '${url}' needs an absolute folder, e.g. filesystem:///srv/backups`);
      }
      repository = { kind: "filesystem", storageArgs: ["filesystem", flag("path", path)], localPath: path, keyFiles: [] };
      break;
    }
    case "s3": {
      const { bucket, prefixArgs } = bucketAndPrefix();
      const endpoint = query.take("endpoint");
      const region = query.take("region");
      const insecure = parseBoolean(query.take("insecure"), "--repository insecure");
      const skipVerify = parseBoolean(query.take("skip-tls-verify"), "--repository skip-tls-verify");
      if (endpoint !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(endpoint)) {
        throw usageError(`--repository: endpoint '${endpoint}' must be host[:port] without a scheme; use insecure=true for plain http`);
      }
      const storageArgs = [
        "s3", flag("bucket", bucket), ...prefixArgs,
        ...(endpoint ? [flag("endpoint", endpoint)] : []),
        ...(region ? [flag("region", region)] : []),
        ...(insecure ? ["--disable-tls"] : []),
        ...(skipVerify ? ["--disable-tls-verification"] : []),
      ];
      repository = { kind: "s3", storageArgs, keyFiles: [] };
      break;
    }
    case "b2": {
      const { bucket, prefixArgs } = bucketAndPrefix();
      repository = { kind: "b2", storageArgs: ["b2", flag("bucket", bucket), ...prefixArgs], keyFiles: [] };
      break;
    }
    case "gcs": {
      const { bucket, prefixArgs } = bucketAndPrefix();
      const credentialsFile = query.take("credentials-file") ?? process.env.GOOGLE_APPLICATION_CREDENTIALS;
      repository = {
        kind: "gcs",
        storageArgs: ["gcs", flag("bucket", bucket), ...prefixArgs, ...(credentialsFile ? [flag("credentials-file", credentialsFile)] : [])],
        keyFiles: keyFilesOf({ "credentials-file": credentialsFile }),
      };
      break;
    }
    case "azure": {
      const { bucket: container, prefixArgs } = bucketAndPrefix();
      // Another cloud (e.g. blob.core.chinacloudapi.cn) or an emulator: kopia reaches <account>.<domain>.
      const storageDomain = query.take("storage-domain");
      if (storageDomain !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(storageDomain)) {
        throw usageError(`--repository: storage-domain '${storageDomain}' must be host[:port] without a scheme, e.g. blob.core.chinacloudapi.cn`);
      }
      const domainArgs = storageDomain ? [flag("storage-domain", storageDomain)] : [];
      repository = { kind: "azure", storageArgs: ["azure", flag("container", container), ...prefixArgs, ...domainArgs], keyFiles: [] };
      break;
    }
    case "sftp": {
      const path = decode(parsed.pathname);
      if (!parsed.username || !parsed.hostname || !path || path === "/") {
        throw usageError(`--repository: '${url}' needs user, host and path, e.g. sftp://backup@nas:22/srv/kopia`);
      }
      const keyfile = query.take("keyfile") ?? process.env.KK_SFTP_KEYFILE;
      const knownHosts = query.take("known-hosts") ?? process.env.KK_SFTP_KNOWN_HOSTS;
      const storageArgs = [
        "sftp", flag("host", parsed.hostname), flag("port", parsed.port || "22"), flag("username", decode(parsed.username)),
        flag("path", path),
        ...(keyfile ? [flag("keyfile", keyfile)] : []),
        ...(knownHosts ? [flag("known-hosts", knownHosts)] : []),
      ];
      repository = { kind: "sftp", storageArgs, keyFiles: keyFilesOf({ keyfile, "known-hosts": knownHosts }) };
      break;
    }
    case "webdav+https":
    case "webdav+http": {
      if (!parsed.hostname) throw usageError(`--repository: '${url}' names no host, e.g. webdav+https://dav.example/kopia`);
      const target = new URL(url.slice("webdav+".length));
      target.search = "";
      repository = { kind: "webdav", storageArgs: ["webdav", flag("url", target.toString())], keyFiles: [] };
      break;
    }
    default:
      throw usageError(`--repository: unknown scheme '${scheme}:' in '${url}'; ${fix}`);
  }
  query.assertAllTaken();
  return { url, ...repository };
}

function parseRcloneUrl(url: string): Repository {
  const remotePath = url.slice("rclone:".length);
  // `remote:path`, or rclone's on-the-fly form `:backend,param=value:path`.
  const remote = /^:?[^:/]+:/.exec(remotePath)?.[0];
  if (!remote) {
    throw usageError(`--repository: '${url}' needs a remote, e.g. rclone:myremote:backups`);
  }
  const parameters = remote.slice(0, -1).split(",").slice(1);
  if (parameters.some((parameter) => RCLONE_SECRET_PARAMETER.test(parameter.split("=")[0]!))) {
    throw usageError(`--repository: '${url.replace(/,.*?:/, ",…:")}' holds credentials in its connection string; keep them in rclone's config or its RCLONE_CONFIG_* environment`);
  }
  const keyFiles = keyFilesOf({ "rclone-config": process.env.RCLONE_CONFIG });
  return { url, kind: "rclone", storageArgs: ["rclone", flag("remote-path", remotePath)], keyFiles };
}

/**
 * The URL with its key-file parameters (keyfile, known-hosts, credentials-file) set to the paths
 * given, e.g. where a Job mounts them; slashes stay readable. rclone's config is no URL parameter.
 */
export function repositoryUrlWithKeyFiles(url: string, paths: Partial<Record<KeyFileName, string>>): string {
  const parameters = Object.entries(paths).filter(([name]) => name !== "rclone-config");
  if (parameters.length === 0) return url;
  const parsed = new URL(url);
  for (const [name, path] of parameters) parsed.searchParams.set(name, path!);
  parsed.search = parsed.searchParams.toString().replaceAll("%2F", "/");
  return parsed.toString();
}

/**
 * `--name=value`, one argv word. Separate words would be re-read by kopia's flag parser: a value
 * starting with '-' would become a flag, one starting with '@' would read a file into argv.
 */
function flag(name: string, value: string): string {
  if (/[\x00-\x1f\x7f]/.test(value)) throw usageError(`--repository: the ${name} '${JSON.stringify(value).slice(1, -1)}' holds a control character; kopia cannot take it`);
  return `--${name}=${value}`;
}

/** A percent-decoded URL part; a malformed escape such as %zz is a usage error, not a crash. */
function decodeUrlPart(text: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw usageError(`--repository: '${url}' has a malformed %-escape; write a literal '%' as %25`);
  }
}

/** Unknown query parameters are errors, so that a typo (endpont=) is not silently ignored. */
function queryReader(parsed: URL, url: string) {
  const taken = new Set<string>();
  return {
    take(name: string): string | undefined {
      taken.add(name);
      return parsed.searchParams.get(name) ?? undefined;
    },
    assertAllTaken() {
      for (const name of parsed.searchParams.keys()) {
        if (!taken.has(name)) throw usageError(`--repository: unknown parameter '${name}' in '${url}'; ${fix}`);
      }
    },
  };
}

/**
 * The repository URL from --repository / KK_REPOSITORY, or from the original tool's S3 variables
 * (KK_BUCKET with KK_ENDPOINT, which may carry an http:// or https:// scheme).
 */
export function repositoryUrlFromSeedEnv(env: NodeJS.ProcessEnv): string | undefined {
  const bucket = env.KK_BUCKET;
  if (!bucket) return undefined;
  const endpointValue = env.KK_ENDPOINT ?? "";
  const insecure = endpointValue.startsWith("http://");
  const endpoint = endpointValue.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const params = new URLSearchParams();
  if (endpoint) params.set("endpoint", endpoint);
  if (insecure) params.set("insecure", "true");
  const query = params.toString();
  return `s3://${bucket}${query ? `?${query}` : ""}`;
}

/**
 * A short, stable name for the repository's own folders (kopia's config, cache and logs): the
 * backend and a hash of where it is. Two repositories never share one; the Azure account, which
 * comes from the environment, is part of where.
 */
export function repositoryFolderName(repository: Repository, env: NodeJS.ProcessEnv = process.env): string {
  const location = JSON.stringify([repository.storageArgs, repository.kind === "azure" ? env.AZURE_STORAGE_ACCOUNT ?? "" : ""]);
  return `${repository.kind}-${new Bun.CryptoHasher("sha256").update(location).digest("hex").slice(0, 16)}`;
}

/** --repository for every script: the URL, else the original tool's S3 variables, parsed once. */
export function repositoryOption(example: string): Option<Repository> {
  return {
    flag: "--repository <url>",
    env: "KK_REPOSITORY",
    help: "Repository URL (or KK_BUCKET + KK_ENDPOINT for S3)",
    read(flags) {
      const url = flagOrEnv(flags.repository, "KK_REPOSITORY") ?? repositoryUrlFromSeedEnv(process.env);
      if (!url) throw usageError(`--repository: no repository given; set --repository or KK_REPOSITORY, e.g. ${example}`);
      return parseRepositoryUrl(url);
    },
  };
}
