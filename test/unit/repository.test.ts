import { describe, expect, test } from "bun:test";
import { isolateEnv, usageErrorOf } from "../support/unit.ts";
import { parseRepositoryUrl, repositoryFolderName, repositoryUrlFromSeedEnv, repositoryUrlWithKeyFiles } from "../../shared/repository.ts";

// gcs, sftp and rclone fall back to these variables; keep them out of the way and restore them afterwards.
const FALLBACK_ENV = ["GOOGLE_APPLICATION_CREDENTIALS", "KK_SFTP_KEYFILE", "KK_SFTP_KNOWN_HOSTS", "RCLONE_CONFIG"] as const;
isolateEnv((name) => (FALLBACK_ENV as readonly string[]).includes(name));

const args = (url: string) => parseRepositoryUrl(url).storageArgs;

/** Asserts a usage error (exit 2) whose message names --repository and contains `fragment`. */
function expectUsageError(url: string, fragment: string) {
  const error = usageErrorOf(() => parseRepositoryUrl(url));
  expect(error.message).toStartWith("--repository");
  expect(error.message).toContain(fragment);
}

describe("parseRepositoryUrl: storage args", () => {
  test("keeps the URL as given", () => {
    expect(parseRepositoryUrl("s3://b/p?endpoint=h:9000").url).toBe("s3://b/p?endpoint=h:9000");
  });

  test("filesystem, trailing slash removed, percent-decoded", () => {
    expect(args("filesystem:///srv/backups")).toEqual(["filesystem", "--path=/srv/backups"]);
    expect(args("filesystem:///srv/backups/")).toEqual(["filesystem", "--path=/srv/backups"]);
    expect(args("filesystem:///srv/my%20backups")).toEqual(["filesystem", "--path=/srv/my backups"]);
  });

  test("s3 with bucket only", () => {
    expect(args("s3://bucket")).toEqual(["s3", "--bucket=bucket"]);
  });

  test("s3 with prefix, endpoint, region, insecure and skip-tls-verify", () => {
    expect(args("s3://bucket/a/b/?endpoint=minio.local:9000&region=eu-west-1&insecure=true&skip-tls-verify=true")).toEqual([
      "s3", "--bucket=bucket", "--prefix=a/b/",
      "--endpoint=minio.local:9000", "--region=eu-west-1",
      "--disable-tls", "--disable-tls-verification",
    ]);
  });

  test("s3 prefix gets exactly one trailing slash", () => {
    expect(args("s3://bucket/prefix?endpoint=s3.example.com")).toEqual([
      "s3", "--bucket=bucket", "--prefix=prefix/", "--endpoint=s3.example.com",
    ]);
  });

  test("s3 insecure=false and skip-tls-verify=0 add no flag", () => {
    expect(args("s3://bucket?endpoint=h:9000&insecure=false&skip-tls-verify=0")).toEqual([
      "s3", "--bucket=bucket", "--endpoint=h:9000",
    ]);
  });

  test("b2 with and without prefix", () => {
    expect(args("b2://bk")).toEqual(["b2", "--bucket=bk"]);
    expect(args("b2://bk/daily")).toEqual(["b2", "--bucket=bk", "--prefix=daily/"]);
  });

  test("gcs with prefix and credentials-file", () => {
    expect(args("gcs://gb/p?credentials-file=/etc/gcs/key.json")).toEqual([
      "gcs", "--bucket=gb", "--prefix=p/", "--credentials-file=/etc/gcs/key.json",
    ]);
  });

  test("gcs without credentials-file", () => {
    expect(args("gcs://gb")).toEqual(["gcs", "--bucket=gb"]);
  });

  test("gcs falls back to GOOGLE_APPLICATION_CREDENTIALS", () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = "/var/run/gcp.json";
    expect(args("gcs://gb")).toEqual(["gcs", "--bucket=gb", "--credentials-file=/var/run/gcp.json"]);
  });

  test("azure uses --container", () => {
    expect(args("azure://cont/sub/dir")).toEqual(["azure", "--container=cont", "--prefix=sub/dir/"]);
    expect(args("azure://cont?storage-domain=blob.core.chinacloudapi.cn")).toEqual(["azure", "--container=cont", "--storage-domain=blob.core.chinacloudapi.cn"]);
    expect(args("azure://cont/p?storage-domain=blob.localhost:10000")).toEqual(["azure", "--container=cont", "--prefix=p/", "--storage-domain=blob.localhost:10000"]);
  });

  test("sftp with port, keyfile and known-hosts", () => {
    expect(args("sftp://backup@nas:2222/srv/kopia?keyfile=/keys/id&known-hosts=/keys/known_hosts")).toEqual([
      "sftp", "--host=nas", "--port=2222", "--username=backup", "--path=/srv/kopia",
      "--keyfile=/keys/id", "--known-hosts=/keys/known_hosts",
    ]);
  });

  test("sftp defaults to port 22", () => {
    expect(args("sftp://backup@nas/srv/kopia")).toEqual([
      "sftp", "--host=nas", "--port=22", "--username=backup", "--path=/srv/kopia",
    ]);
  });

  test("sftp keyfile and known-hosts fall back to KK_SFTP_*", () => {
    process.env.KK_SFTP_KEYFILE = "/env/id";
    process.env.KK_SFTP_KNOWN_HOSTS = "/env/kh";
    expect(args("sftp://backup@nas/srv/kopia")).toEqual([
      "sftp", "--host=nas", "--port=22", "--username=backup", "--path=/srv/kopia",
      "--keyfile=/env/id", "--known-hosts=/env/kh",
    ]);
  });

  test("webdav+https", () => {
    expect(args("webdav+https://dav.example/kopia/")).toEqual(["webdav", "--url=https://dav.example/kopia/"]);
  });

  test("webdav+http keeps a non-default port", () => {
    expect(args("webdav+http://dav.example:8080/kopia")).toEqual(["webdav", "--url=http://dav.example:8080/kopia"]);
  });

  test("rclone", () => {
    expect(parseRepositoryUrl("rclone:myremote:backups/k8s")).toEqual({
      url: "rclone:myremote:backups/k8s",
      kind: "rclone",
      storageArgs: ["rclone", "--remote-path=myremote:backups/k8s"],
      keyFiles: [],
    });
  });
});

describe("parseRepositoryUrl: errors (exit 2, naming --repository)", () => {
  test("unknown scheme", () => expectUsageError("ftp://host/path", "unknown scheme 'ftp:'"));
  test("not a URL at all", () => expectUsageError("/srv/backups", "is not a URL"));
  test("relative filesystem path (host form)", () => expectUsageError("filesystem://backups", "needs an absolute folder"));
  test("relative filesystem path (opaque form)", () => expectUsageError("filesystem:backups", "needs an absolute folder"));
  test("filesystem root", () => expectUsageError("filesystem:///", "needs an absolute folder"));
  test("user and password in URL", () => expectUsageError("s3://key:secret@bucket?endpoint=h", "must not hold credentials"));
  test("user only in an s3 URL", () => expectUsageError("s3://key@bucket", "must not hold credentials"));
  test("password in an sftp URL", () => expectUsageError("sftp://backup:pw@nas/srv/kopia", "must not hold credentials"));
  test("credentials in a webdav URL", () => expectUsageError("webdav+https://u:p@dav.example/k", "must not hold credentials"));
  test("unknown query parameter", () => expectUsageError("s3://bucket?endpont=h:9000", "unknown parameter 'endpont'"));
  test("unknown query parameter on webdav", () => expectUsageError("webdav+https://dav.example/k?x=1", "unknown parameter 'x'"));
  test("endpoint with a scheme", () =>
    expectUsageError("s3://bucket?endpoint=http://minio:9000", "endpoint 'http://minio:9000' must be host[:port] without a scheme"));
  test("azure storage-domain with a scheme", () =>
    expectUsageError("azure://c?storage-domain=https://blob.example", "storage-domain 'https://blob.example' must be host[:port] without a scheme"));
  test("missing bucket", () => expectUsageError("s3:///prefix?endpoint=h", "names no bucket"));
  test("missing b2 bucket", () => expectUsageError("b2:///prefix", "names no bucket"));
  test("rclone without remote", () => expectUsageError("rclone:backups", "needs a remote"));
  test("bad insecure value", () => expectUsageError("s3://bucket?insecure=maybe", "'maybe' is not a boolean"));
  test("sftp without path", () => expectUsageError("sftp://backup@nas", "needs user, host and path"));
  test("sftp without user", () => expectUsageError("sftp://nas/srv/kopia", "needs user, host and path"));

  test("a malformed %-escape is a usage error, not a crash", () => expectUsageError("filesystem:///srv/100%zz", "malformed %-escape"));
  test("a malformed %-escape in an s3 prefix", () => expectUsageError("s3://bucket/a%zz?endpoint=h", "malformed %-escape"));
  test("rclone credentials in the connection string", () => expectUsageError("rclone:s3remote,secret_access_key=abc:bucket/k", "holds credentials in its connection string"));
  test("rclone access key id in the connection string", () => expectUsageError("rclone::s3,access_key_id=AKIA:bucket", "holds credentials"));
  test("the refusal of rclone credentials does not echo them", () => {
    expect(usageErrorOf(() => parseRepositoryUrl("rclone:r,pass=hunter2hunter2:p")).message).not.toContain("hunter2");
  });
  test("a control character in a value kopia would receive", () => expectUsageError("filesystem:///srv/a%0Ab", "control character"));

  // Regression: filesystem://// decoded to path "//", passed the "/" check, and became --path "".
  test("filesystem://// (root with extra slashes) is refused", () =>
    expectUsageError("filesystem:////", "needs an absolute folder"));
});

describe("parseRepositoryUrl: values kopia's flag parser would read again", () => {
  test("every value is joined to its flag, so '-x' and '@file' stay values", () => {
    expect(args("s3://bucket/-x?endpoint=h:9000&region=@etc")).toEqual(["s3", "--bucket=bucket", "--prefix=-x/", "--endpoint=h:9000", "--region=@etc"]);
    expect(args("filesystem:///srv/@backups")).toEqual(["filesystem", "--path=/srv/@backups"]);
    expect(args("sftp://-u@nas/srv/kopia")).toContain("--username=-u");
  });

  test("rclone parameters without credentials are kept", () => {
    expect(args("rclone:remote,provider=Minio:bucket")).toEqual(["rclone", "--remote-path=remote,provider=Minio:bucket"]);
  });

  test("kind, local path and key files say what the repository is", () => {
    expect(parseRepositoryUrl("filesystem:///srv/k")).toMatchObject({ kind: "filesystem", localPath: "/srv/k", keyFiles: [] });
    expect(parseRepositoryUrl("sftp://b@nas/srv/k?keyfile=/k/id&known-hosts=/k/kh")).toMatchObject({
      kind: "sftp",
      keyFiles: [{ name: "keyfile", path: "/k/id" }, { name: "known-hosts", path: "/k/kh" }],
    });
    expect(parseRepositoryUrl("gcs://b?credentials-file=/k.json")).toMatchObject({ kind: "gcs", keyFiles: [{ name: "credentials-file", path: "/k.json" }] });
    expect(parseRepositoryUrl("rclone:nas:kopia").keyFiles).toEqual([]);
    process.env.RCLONE_CONFIG = "/home/me/rclone.conf";
    expect(parseRepositoryUrl("rclone:nas:kopia").keyFiles).toEqual([{ name: "rclone-config", path: "/home/me/rclone.conf" }]);
    expect(parseRepositoryUrl("webdav+https://dav.example/k").kind).toBe("webdav");
    expect(parseRepositoryUrl("s3://b").localPath).toBeUndefined();
  });
});

describe("repositoryFolderName", () => {
  const name = (url: string, env: NodeJS.ProcessEnv = {}) => repositoryFolderName(parseRepositoryUrl(url), env);

  test("the backend and a hash of the location: stable, and a valid folder name", () => {
    expect(name("s3://b/p?endpoint=h:9000")).toMatch(/^s3-[0-9a-f]{16}$/);
    expect(name("s3://b/p?endpoint=h:9000")).toBe(name("s3://b/p?endpoint=h:9000"));
  });

  test("two repositories never share one: other folder, bucket, prefix, endpoint or Azure account", () => {
    const names = [
      name("filesystem:///srv/a"), name("filesystem:///srv/b"),
      name("s3://b?endpoint=h:9000"), name("s3://c?endpoint=h:9000"), name("s3://b/p?endpoint=h:9000"), name("s3://b?endpoint=other:9000"),
      name("azure://c", { AZURE_STORAGE_ACCOUNT: "one" }), name("azure://c", { AZURE_STORAGE_ACCOUNT: "two" }),
    ];
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("repositoryUrlFromSeedEnv", () => {
  test("no KK_BUCKET gives undefined", () => {
    expect(repositoryUrlFromSeedEnv({ KK_ENDPOINT: "http://minio:9000" })).toBeUndefined();
    expect(repositoryUrlFromSeedEnv({ KK_BUCKET: "" })).toBeUndefined();
  });

  test("KK_BUCKET alone", () => {
    expect(repositoryUrlFromSeedEnv({ KK_BUCKET: "backups" })).toBe("s3://backups");
  });

  test("http:// endpoint becomes insecure=true, trailing slash dropped", () => {
    const url = repositoryUrlFromSeedEnv({ KK_BUCKET: "backups", KK_ENDPOINT: "http://minio:9000/" });
    expect(url).toBe("s3://backups?endpoint=minio%3A9000&insecure=true");
    expect(args(url!)).toEqual(["s3", "--bucket=backups", "--endpoint=minio:9000", "--disable-tls"]);
  });

  test("https:// endpoint is secure", () => {
    const url = repositoryUrlFromSeedEnv({ KK_BUCKET: "backups", KK_ENDPOINT: "https://s3.example.com" });
    expect(url).toBe("s3://backups?endpoint=s3.example.com");
    expect(args(url!)).toEqual(["s3", "--bucket=backups", "--endpoint=s3.example.com"]);
  });

  test("endpoint without scheme is kept as is and secure", () => {
    const url = repositoryUrlFromSeedEnv({ KK_BUCKET: "backups", KK_ENDPOINT: "minio:9000" });
    expect(url).toBe("s3://backups?endpoint=minio%3A9000");
    expect(args(url!)).toEqual(["s3", "--bucket=backups", "--endpoint=minio:9000"]);
  });
});

describe("repositoryUrlWithKeyFiles", () => {
  test("sets the key-file parameters, replacing the URL's, keeping the rest; the result parses to those files", () => {
    const url = repositoryUrlWithKeyFiles("sftp://backup@nas:2222/srv/k?keyfile=/home/me/id", { keyfile: "/kopia-keys/keyfile", "known-hosts": "/kopia-keys/known-hosts" });
    expect(url).toBe("sftp://backup@nas:2222/srv/k?keyfile=/kopia-keys/keyfile&known-hosts=/kopia-keys/known-hosts");
    expect(args(url)).toEqual(["sftp", "--host=nas", "--port=2222", "--username=backup", "--path=/srv/k", "--keyfile=/kopia-keys/keyfile", "--known-hosts=/kopia-keys/known-hosts"]);
    const gcs = repositoryUrlWithKeyFiles("gcs://b/p", { "credentials-file": "/kopia-keys/credentials-file" });
    expect(args(gcs)).toEqual(["gcs", "--bucket=b", "--prefix=p/", "--credentials-file=/kopia-keys/credentials-file"]);
  });

  test("wins over the variables the local files came from", () => {
    process.env.KK_SFTP_KEYFILE = "/env/id";
    const url = repositoryUrlWithKeyFiles("sftp://backup@nas/srv/k", { keyfile: "/kopia-keys/keyfile", "known-hosts": "/kopia-keys/known-hosts" });
    expect(args(url)).toContain("--keyfile=/kopia-keys/keyfile");
  });

  test("rclone's config is no URL parameter: the URL stays as it is", () => {
    expect(repositoryUrlWithKeyFiles("rclone:nas:kopia", { "rclone-config": "/kopia-keys/rclone-config" })).toBe("rclone:nas:kopia");
  });
});
