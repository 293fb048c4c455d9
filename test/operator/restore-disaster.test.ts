import { beforeAll, describe, expect, test } from "bun:test";
import { describeTree } from "../support/corpus.ts";
import { sharedCluster, type TestCluster } from "../support/cluster.ts";
import { runOperatorRestoreWithHostJobs } from "../support/job-runner.ts";
import { backedUpNamespace, deleteAtCleanup, deleteNamespaceAndWait, volumeForRestore, volumeWithFiles } from "../support/restore-cluster.ts";
import { runOperatorWithHostJobs } from "../support/job-runner.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await sharedCluster();
});

describe("operator-restore --all: disaster recovery from the repository alone", () => {
  test("with the original namespaces deleted, every PVC is recreated from its snapshot's tags (namespaces too) and restored; a summary table", async () => {
    const shop = await cluster.freshNamespace("dr-shop");
    const blog = await cluster.freshNamespace("dr-blog");
    const db = await volumeWithFiles(cluster, shop, "db", { size: "2Gi" });
    const uploads = await volumeWithFiles(cluster, shop, "uploads");
    const posts = await volumeWithFiles(cluster, blog, "posts");
    const { repository, kopia } = await backedUpNamespace(cluster, shop);
    const blogBackup = await runOperatorWithHostJobs(cluster, blog, ["--repository", repository, "--no-maintenance"]);
    expect(blogBackup.run.exitCode, blogBackup.run.output).toBe(0);
    expect((await kopia.snapshots(`db@${shop}:/data`))[0]!.tags).toMatchObject({ "tag:k8s-size": "2Gi" });
    const trees = { db: await describeTree(db.hostPath), uploads: await describeTree(uploads.hostPath), posts: await describeTree(posts.hostPath) };

    await Promise.all([deleteNamespaceAndWait(cluster, shop), deleteNamespaceAndWait(cluster, blog)]);
    deleteAtCleanup(cluster, shop);
    deleteAtCleanup(cluster, blog);
    const fresh = {
      db: await volumeForRestore(cluster, { namespace: shop, pvc: "db", size: "2Gi" }),
      uploads: await volumeForRestore(cluster, { namespace: shop, pvc: "uploads" }),
      posts: await volumeForRestore(cluster, { namespace: blog, pvc: "posts" }),
    };
    const jobs = await cluster.freshNamespace("dr-jobs");

    const { run, runs } = await runOperatorRestoreWithHostJobs(cluster, ["--repository", repository, "--job-namespace", jobs, "--all", "--namespace", shop, "--namespace", blog, "--concurrency", "2"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(runs.filter((hostRun) => hostRun.role === "restore")).toHaveLength(3);
    for (const [namespace, pvc] of [[shop, "db"], [shop, "uploads"], [blog, "posts"]]) {
      expect(run.output).toMatch(new RegExp(`${namespace}\\s+${pvc}\\s+\\S+\\s+restored\\s`));
    }
    expect(run.output).toContain(`create PVC ${shop}/db from the backup's record: 2Gi, ReadWriteOnce, storage class ${cluster.storageClass}`);
    expect(run.output).toContain("all 3 restores succeeded");
    expect(await describeTree(fresh.db.hostPath)).toEqual(trees.db);
    expect(await describeTree(fresh.uploads.hostPath)).toEqual(trees.uploads);
    expect(await describeTree(fresh.posts.hostPath)).toEqual(trees.posts);
    const recreated = await cluster.core.readNamespacedPersistentVolumeClaim({ namespace: shop, name: "db" });
    expect(recreated.spec!.resources!.requests!.storage).toBe("2Gi");
    expect(recreated.spec!.volumeName).toBe(fresh.db.pvName);
  });
});
