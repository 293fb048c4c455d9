import { AwsClient } from "aws4fetch";
import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

export interface MinioOptions {
  /** Reuse a stopped server's data folder and port (e.g. to restart it with a new secret key). */
  dataDir?: string;
  port?: number;
  secretKey?: string;
}

/** A real MinIO server on 127.0.0.1 with its own data folder. */
export async function startMinio(options: MinioOptions = {}) {
  const port = options.port ?? freePort();
  const dataDir = options.dataDir ?? (await tempDir("kk-minio-"));
  const accessKey = "kopiak8stest";
  const secretKey = options.secretKey ?? `minio-secret-${crypto.randomUUID()}`;
  const server = startDaemon(["minio", "server", dataDir, "--address", `127.0.0.1:${port}`, "--console-address", `127.0.0.1:${freePort()}`, "--quiet"], {
    MINIO_ROOT_USER: accessKey,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_BROWSER: "off",
    MINIO_UPDATE: "off",
  });
  const endpoint = `127.0.0.1:${port}`;
  await waitFor("minio", async () => (await fetch(`http://${endpoint}/minio/health/ready`)).ok);
  const s3 = new AwsClient({ accessKeyId: accessKey, secretAccessKey: secretKey, service: "s3", region: "us-east-1" });
  const request = async (method: string, path: string) => {
    const response = await s3.fetch(`http://${endpoint}${path}`, { method });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.text();
  };
  return {
    endpoint,
    port,
    dataDir,
    accessKey,
    secretKey,
    env: { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey },
    stop: async () => {
      server.kill("SIGTERM");
      await server.exited;
    },
    createBucket: (bucket: string) => request("PUT", `/${bucket}`),
    putObject: async (bucket: string, key: string, body: string) => {
      const response = await s3.fetch(`http://${endpoint}/${bucket}/${key}`, { method: "PUT", body });
      if (!response.ok) throw new Error(`put ${key}: ${response.status}`);
    },
    /** Keys with size and ETag: enough to tell whether anything in the bucket changed. */
    listObjects: async (bucket: string) => {
      const xml = await request("GET", `/${bucket}?list-type=2&max-keys=10000`);
      return [...xml.matchAll(/<Key>([^<]+)<\/Key>.*?<ETag>([^<]+)<\/ETag><Size>(\d+)<\/Size>/gs)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
    },
  };
}
export type Minio = Awaited<ReturnType<typeof startMinio>>;
