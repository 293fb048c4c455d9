import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { createAppPod, runOperator } from "../support/operator.ts";
import { tempDir } from "../support/processes.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

describe("6 a hook that times out is stopped inside the container", () => {
  test("a pre-backup hook past its timeout is killed where it runs: its late step never happens, so no freeze lands after the unfreeze", async () => {
    const late = `${await tempDir()}/late-freeze`;
    const namespace = await cluster.freshNamespace("hook-timeout");
    await cluster.createBoundPvc(namespace, "data");
    await createAppPod(cluster, namespace, "app", ["data"], {
      annotations: { "kopia-k8s.io/pre-backup": `sleep 4 && touch ${late}`, "kopia-k8s.io/pre-backup-timeout": "1s" },
    });
    const run = await runOperator(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(6);
    expect(run.stderr).toContain(`hook in pod ${namespace}/app, container app: timed out after 1s and was stopped in the container`);
    await Bun.sleep(5000); // past the moment the hook would have finished its sleep
    expect(await Bun.file(late).exists()).toBe(false);
  });
});
