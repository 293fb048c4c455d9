import { beforeAll, describe, expect, test } from "bun:test";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { TEST_PASSWORD } from "../support/kopia.ts";
import { createAppPod, runOperator } from "../support/operator.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});
describe("operator-backup's log never shows the repository password", () => {
  test("a pre-backup hook that echoes the password: its command and its output are logged with *** instead", async () => {
    const namespace = await cluster.freshNamespace("hook-secret");
    await cluster.createBoundPvc(namespace, "data");
    // The command holds the password, as a careless hook might (`mysqldump -p…`), and prints it.
    await createAppPod(cluster, namespace, "app", ["data"], { annotations: { "kopia-k8s.io/pre-backup": `echo 'dumping with ${TEST_PASSWORD}'; echo '${TEST_PASSWORD}' >&2` } });
    const run = await runOperator(cluster, [namespace]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`[${namespace}/app] dumping with ***`);
    expect(run.output).toContain(`[${namespace}/app] (stderr) ***`);
    expect(run.output).toContain(`sh -c "echo 'dumping with ***'`);
    expect(run.output).not.toContain(TEST_PASSWORD);
  });
});
