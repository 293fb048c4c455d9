/** Identities with chosen rights: a ServiceAccount bound to the shipped ClusterRole's rules, some of them taken away. */
import { AuthorizationV1Api, KubeConfig, RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { join } from "node:path";
import type { TestCluster } from "./cluster.ts";
import { onCleanup, repoRoot, tempDir, waitFor } from "./processes.ts";

/** The rules of deploy/rbac.yaml's ClusterRole. */
export async function shippedRules(): Promise<V1PolicyRule[]> {
  const documents = Bun.YAML.parse(await Bun.file(join(repoRoot, "deploy", "rbac.yaml")).text()) as { kind: string; rules?: V1PolicyRule[] }[];
  return documents.find((document) => document.kind === "ClusterRole")!.rules!;
}

/** `rules` with `verb` removed from every rule on `resource` (e.g. "jobs", "list"). */
export function withoutVerb(rules: V1PolicyRule[], resource: string, verb: string): V1PolicyRule[] {
  return rules.map((rule) => (rule.resources?.includes(resource) ? { ...rule, verbs: rule.verbs.filter((v) => v !== verb) } : rule));
}

export interface ServiceAccountIdentity {
  /** Authenticates as the ServiceAccount (a token from the TokenRequest API). */
  kubeconfigPath: string;
  /** Takes `verb` on `resource` (in `group`) away; resolves once the API server refuses it. */
  revoke(resource: string, group: string, verb: string): Promise<void>;
}

/**
 * A new ServiceAccount bound cluster-wide to a new ClusterRole with exactly `rules`. Everything is
 * removed at cleanup.
 */
export async function serviceAccountIdentity(cluster: TestCluster, rules: V1PolicyRule[]): Promise<ServiceAccountIdentity> {
  const namespace = await cluster.freshNamespace("operator-sa");
  const name = "operator-backup";
  await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
  const roleName = `kk-test-${namespace}`;
  await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules } });
  onCleanup(() => rbac.deleteClusterRole({ name: roleName }).then(() => {}, () => {}));
  await rbac.createClusterRoleBinding({
    body: { metadata: { name: roleName }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName }, subjects: [{ kind: "ServiceAccount", name, namespace }] },
  });
  onCleanup(() => rbac.deleteClusterRoleBinding({ name: roleName }).then(() => {}, () => {}));
  const token = await cluster.core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ ...cluster.kc.getCurrentCluster()!, name: "test" }],
    users: [{ name, token: token.status!.token }],
    contexts: [{ name: "sa", cluster: "test", user: name, namespace }],
    currentContext: "sa",
  });
  const kubeconfigPath = join(await tempDir(), "kubeconfig");
  await Bun.write(kubeconfigPath, config.exportConfig());

  const authorization = cluster.kc.makeApiClient(AuthorizationV1Api);
  const allowed = async (resource: string, group: string, verb: string) =>
    (await authorization.createSubjectAccessReview({ body: { spec: { user: `system:serviceaccount:${namespace}:${name}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"], resourceAttributes: { verb, resource, group } } } })).status?.allowed;
  let current = rules;
  return {
    kubeconfigPath,
    async revoke(resource, group, verb) {
      current = withoutVerb(current, resource, verb);
      await rbac.replaceClusterRole({ name: roleName, body: { metadata: { name: roleName }, rules: current } });
      await waitFor(`the API server to refuse ${verb} ${resource}`, async () => (await allowed(resource, group, verb)) === false);
    },
  };
}

/** A kubeconfig of serviceAccountIdentity, for a test that keeps the rights as they are. */
export async function serviceAccountKubeconfig(cluster: TestCluster, rules: V1PolicyRule[]): Promise<string> {
  return (await serviceAccountIdentity(cluster, rules)).kubeconfigPath;
}
