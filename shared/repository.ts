import { usageError } from "./exit-codes.ts";
import { isAbsolutePath, parseBoolean } from "./options.ts";

/** Where the Kopia repository lives, as Kopia's storage subcommand and flags. Holds no secret. */
export interface Repository {
  /** The URL as the user gave it (credentials are refused, so it is safe to log). */
  url: string;
  /** e.g. ["s3", "--bucket", "b", "--endpoint", "host:9000"]: appended to `kopia repository connect|create`. */
  storageArgs: string[];
}

export const REPOSITORY_URL_FORMS = [
  "filesystem:///abs/path",
  "s3://bucket[/prefix]?endpoint=host:port[&region=r][&insecure=true][&skip-tls-verify=true]",
  "b2://bucket[/prefix]",
  "gcs://bucket[/prefix][?credentials-file=/abs/key.json]",
  "azure://container[/prefix]",
  "sftp://user@host[:port]/path[?keyfile=/abs/key&known-hosts=/abs/known_hosts]",
  "webdav+https://host/path (or webdav+http://)",
  "rclone:remote:path",
];

const fix = `use one of: ${REPOSITORY_URL_FORMS.join(", ")}`;

/** Maps a repository URL to Kopia storage flags. Secrets are never accepted here: only from env. */
export function parseRepositoryUrl(url: string): Repository {
  if (url.startsWith("rclone:")) {
    const remotePath = url.slice("rclone:".length);
    if (!/^[^:/]+:/.test(remotePath)) {
      throw usageError(`--repository: '${url}' needs a remote, e.g. rclone:myremote:backups`);
    }
    return { url, storageArgs: ["rclone", "--remote-path", remotePath] };
  }

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
  const bucketAndPrefix = () => {
    if (!parsed.hostname) throw usageError(`--repository: '${url}' names no bucket; e.g. ${scheme}://my-bucket/prefix`);
    const prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, "");
    return { bucket: parsed.hostname, prefixArgs: prefix ? ["--prefix", `${prefix}/`] : [] };
  };

  let storageArgs: string[];
  switch (scheme) {
    case "filesystem": {
      const path = decodeURIComponent(parsed.pathname).replace(/\/+$/, "");
      if (parsed.host || !isAbsolutePath(path)) {
        throw usageError(`--repository: '${url}' needs an absolute folder, e.g. filesystem:///srv/backups`);
      }
      storageArgs = ["filesystem", "--path", path];
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
      storageArgs = [
        "s3", "--bucket", bucket, ...prefixArgs,
        ...(endpoint ? ["--endpoint", endpoint] : []),
        ...(region ? ["--region", region] : []),
        ...(insecure ? ["--disable-tls"] : []),
        ...(skipVerify ? ["--disable-tls-verification"] : []),
      ];
      break;
    }
    case "b2": {
      const { bucket, prefixArgs } = bucketAndPrefix();
      storageArgs = ["b2", "--bucket", bucket, ...prefixArgs];
      break;
    }
    case "gcs": {
      const { bucket, prefixArgs } = bucketAndPrefix();
      const credentialsFile = query.take("credentials-file") ?? process.env.GOOGLE_APPLICATION_CREDENTIALS;
      storageArgs = ["gcs", "--bucket", bucket, ...prefixArgs, ...(credentialsFile ? ["--credentials-file", credentialsFile] : [])];
      break;
    }
    case "azure": {
      const { bucket: container, prefixArgs } = bucketAndPrefix();
      storageArgs = ["azure", "--container", container, ...prefixArgs];
      break;
    }
    case "sftp": {
      const path = decodeURIComponent(parsed.pathname);
      if (!parsed.username || !parsed.hostname || !path || path === "/") {
        throw usageError(`--repository: '${url}' needs user, host and path, e.g. sftp://backup@nas:22/srv/kopia`);
      }
      const keyfile = query.take("keyfile") ?? process.env.KK_SFTP_KEYFILE;
      const knownHosts = query.take("known-hosts") ?? process.env.KK_SFTP_KNOWN_HOSTS;
      storageArgs = [
        "sftp", "--host", parsed.hostname, "--port", parsed.port || "22", "--username", decodeURIComponent(parsed.username),
        "--path", path,
        ...(keyfile ? ["--keyfile", keyfile] : []),
        ...(knownHosts ? ["--known-hosts", knownHosts] : []),
      ];
      break;
    }
    case "webdav+https":
    case "webdav+http": {
      if (!parsed.hostname) throw usageError(`--repository: '${url}' names no host, e.g. webdav+https://dav.example/kopia`);
      const target = new URL(url.slice("webdav+".length));
      target.search = "";
      storageArgs = ["webdav", "--url", target.toString()];
      break;
    }
    default:
      throw usageError(`--repository: unknown scheme '${scheme}:' in '${url}'; ${fix}`);
  }
  query.assertAllTaken();
  return { url, storageArgs };
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
