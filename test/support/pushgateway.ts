import { freePort, startDaemon, tempDir, waitFor } from "./processes.ts";

/** A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on 127.0.0.1. */
export async function startPushgateway() {
  const port = freePort();
  const dataDir = await tempDir("kk-pushgateway-");
  startDaemon(["pushgateway", `--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${dataDir}/metrics`]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor("pushgateway", async () => (await fetch(`${url}/-/ready`)).ok);
  return {
    url,
    /** The gateway's own /metrics page: what Prometheus would scrape. */
    scrape: async () => (await fetch(`${url}/metrics`)).text(),
  };
}
