import { usageError } from "../exit-codes.ts";
import { groupTargets } from "./backup-groups.ts";
import { apiCall, httpStatusOf, permanentApiError, type Kube } from "./client.ts";
import { LABEL_RUN_ID } from "./names.ts";
import { planBackups, type BackupPlan } from "./plan.ts";
import type { OperatorSettings } from "./operator-backup-options.ts";

/**
 * One list call per kind (running pods, PVCs, PVs), whatever the size of the cluster. With
 * --namespace, one call per namespace and kind; PVs are cluster-scoped, so their list is only tried:
 * an identity with rights in those namespaces only runs without them (the scheduler still honours a
 * PV's node affinity for the backup Jobs; only the plan and the init Job's placement lack it).
 */
export async function discover(kube: Kube, settings: OperatorSettings): Promise<BackupPlan> {
  const podFilter = { fieldSelector: "status.phase=Running", ...(settings.selector ? { labelSelector: settings.selector } : {}) };
  const [pods, pvcs, pvs] = settings.namespaces.length
    ? await Promise.all([
        inEach(settings.namespaces, (namespace) => apiCall(() => kube.core.listNamespacedPod({ namespace, ...podFilter }), { verb: "list", resource: "pods", namespace })),
        inEach(settings.namespaces, (namespace) => apiCall(() => kube.core.listNamespacedPersistentVolumeClaim({ namespace }), { verb: "list", resource: "persistentvolumeclaims", namespace })),
        kube.core.listPersistentVolume({}).then(
          (list) => list.items,
          (error) => {
            if (httpStatusOf(error) === 403) return [];
            throw permanentApiError(error, "list", "persistentvolumes", "") ?? error;
          },
        ),
      ])
    : await Promise.all([
        apiCall(() => kube.core.listPodForAllNamespaces(podFilter), { verb: "list", resource: "pods" }).then((list) => list.items),
        apiCall(() => kube.core.listPersistentVolumeClaimForAllNamespaces({}), { verb: "list", resource: "persistentvolumeclaims" }).then((list) => list.items),
        apiCall(() => kube.core.listPersistentVolume({}), { verb: "list", resource: "persistentvolumes" }).then((list) => list.items),
      ]);
  return planBackups(pods, pvcs, pvs, {
    namespaces: settings.namespaces,
    podSelectorGiven: Boolean(settings.selector),
    preBackupAnnotation: settings.preBackupAnnotation,
    postBackupAnnotation: settings.postBackupAnnotation,
    defaultHookTimeoutMs: settings.hookTimeoutMs,
    defaultHookOnError: settings.hookOnError,
  });
}

async function inEach<T>(namespaces: string[], list: (namespace: string) => Promise<{ items: T[] }>): Promise<T[]> {
  return (await Promise.all(namespaces.map(list))).flatMap((result) => result.items);
}

/** The plan in words: what --dry-run prints, and what every run logs before it acts. */
export function describePlan(plan: BackupPlan, settings: Pick<OperatorSettings, "dryRun" | "concurrency" | "nodeConcurrency" | "volumesPerJob" | "runId">): string[] {
  const verb = settings.dryRun ? "would" : "will";
  const jobs = groupTargets(plan.targets.filter((target) => !target.problem), settings.volumesPerJob).length;
  const lines = [
    `plan for run ${settings.runId}: ${plan.preHooks.length} pre-backup hooks, ${plan.targets.length} PVCs in ${jobs} Jobs (${settings.concurrency} Jobs at once, ${settings.nodeConcurrency} on one node), ${plan.postHooks.length} post-backup hooks`,
  ];
  for (const hook of plan.preHooks) {
    lines.push(`  ${verb} run pre-backup hook in ${hook.namespace}/${hook.pod} (${hook.container}, timeout ${hook.timeoutMs / 1000}s, on error ${hook.onError}): ${hook.command}`);
    if (hook.problem) lines.push(`    but it cannot run: ${hook.problem}`);
  }
  for (const target of plan.targets) {
    const where = target.node ? `on node ${target.node}` : target.pvNodeAffinity ? "where its PV's node affinity allows" : "on any node";
    const mountedBy = target.mountedBy.length ? `mounted by ${target.mountedBy.join(", ")}` : "not mounted";
    lines.push(target.problem ? `  cannot back up ${target.namespace}/${target.pvc}: ${target.problem}` : `  ${verb} back up ${target.namespace}/${target.pvc} ${where} (${mountedBy})`);
  }
  for (const hook of plan.postHooks) lines.push(`  ${verb} run post-backup hook in ${hook.namespace}/${hook.pod} (${hook.container}): ${hook.command}`);
  for (const entry of plan.skipped) lines.push(`  skipping ${entry.namespace}/${entry.name}: ${entry.reason}`);
  return lines;
}

/** A --uuid given again while the earlier run's Jobs still exist would meet a 409 for every Job: say so once, up front. */
export async function assertRunIdUnused(kube: Kube, runId: string, namespaces: string[]): Promise<void> {
  const labelSelector = `${LABEL_RUN_ID}=${runId}`;
  const leftovers = namespaces.length
    ? await inEach(namespaces, (namespace) => apiCall(() => kube.batch.listNamespacedJob({ namespace, labelSelector, limit: 1 }), { verb: "list", resource: "jobs", group: "batch", namespace }))
    : (await apiCall(() => kube.batch.listJobForAllNamespaces({ labelSelector, limit: 1 }), { verb: "list", resource: "jobs", group: "batch" })).items;
  const [first] = leftovers;
  if (!first) return;
  throw usageError(
    `--uuid: Jobs of an earlier run with id ${runId} still exist (e.g. ${first.metadata!.namespace}/${first.metadata!.name}); ` +
      `remove them with kubectl delete jobs,secrets -A -l ${LABEL_RUN_ID}=${runId}, or give another --uuid`,
  );
}
