// The node reconciler (issue 15): eviction that reaches machines the platform does not own. Every 30 s the
// supervisor reads the roster — the nodes the index admits now — from GET <pinned API URL>/v1/nodes/roster
// over TLS verified inside the enclave (as platform-client.ts reads /v1/issuer) with the webhook bearer
// secret, writes it into the allow-list ConfigMap `kube-system/k3s-daas-node-roster` (the admission policy
// in enclave/rbac/ refuses every write of a kubelet not in it), then deletes every Node not in it: first its
// pods (force: their kubelet can no longer confirm anything), then the Node, its pods once more (one bound
// in between), then `kube-system/<name>.node-password.k3s`, so the name can never re-register with the old
// password. Through the local kube-apiserver with the admin credentials K3s writes.
//
// Never on missing data: a roster that cannot be read in full (an outage, a stale index, a malformed page)
// or an allow-list that cannot be written changes nothing this round; the next one retries.
//
// The Kubernetes client is a small typed one over node:https rather than @kubernetes/client-node: six REST
// calls are needed, and that library would bring its own HTTP, WebSocket and OIDC stacks into the measured
// enclave image (its bundle size and its PCRs) for none of them.
import * as fs from 'node:fs/promises';
import * as https from 'node:https';
import * as path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { canonicalApiUrl } from '../../../lambdas/shared/attestation/enclave-claims';

export const ROSTER_CONFIGMAP = { namespace: 'kube-system', name: 'k3s-daas-node-roster' } as const;
export const NODE_RECONCILE_INTERVAL_MS = 30_000;
/** K3s keeps each agent's node password (hashed) in this Secret; deleting it frees nothing but the old password. */
export const nodePasswordSecret = (nodeName: string) => `${nodeName}.node-password.k3s`;

const NODE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const RosterPageSchema = z.object({
  nodes: z.array(z.object({ name: z.string().regex(NODE_NAME), kind: z.enum(['asg', 'external']), stakeId: z.string().regex(/^0x[0-9a-f]{64}$/) })),
  next: z.string().min(1).nullable(),
  asOf: z.string(),
  coveredThroughMs: z.number(),
});

export type RosterNode = z.infer<typeof RosterPageSchema>['nodes'][number];

/** The roster could not be read in full; `code` is the route's reason (`index_stale`, `backend_unavailable`, …) when it gave one. */
export class RosterUnavailableError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'RosterUnavailableError';
  }
}

export interface RosterSource {
  /** Every page, or a RosterUnavailableError: never a partial roster. */
  fetchAll(): Promise<RosterNode[]>;
}

/** More pages than this is a loop, not a roster (the route evaluates up to 1000 table items per page). */
const MAX_PAGES = 10_000;

export function httpsRosterSource(apiUrl: string, webhookSecret: string, fetchImpl: typeof fetch = fetch): RosterSource {
  const base = `${canonicalApiUrl(apiUrl)}/v1/nodes/roster`;
  return {
    async fetchAll() {
      const nodes: RosterNode[] = [];
      let after: string | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const url = after === null ? base : `${base}?after=${encodeURIComponent(after)}`;
        let res: Response;
        try {
          res = await fetchImpl(url, { headers: { authorization: `Bearer ${webhookSecret}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
        } catch (err) {
          throw new RosterUnavailableError(`GET /v1/nodes/roster failed: ${(err as Error).message}`);
        }
        let body: unknown;
        try {
          body = await res.json();
        } catch {
          throw new RosterUnavailableError(`GET /v1/nodes/roster answered ${res.status} without JSON`);
        }
        if (!res.ok) {
          const code = typeof (body as { error?: unknown })?.error === 'string' ? (body as { error: string }).error : undefined;
          throw new RosterUnavailableError(`GET /v1/nodes/roster answered ${res.status}${code ? ` ${code}` : ''}`, code);
        }
        const parsed = RosterPageSchema.safeParse(body);
        if (!parsed.success) throw new RosterUnavailableError('GET /v1/nodes/roster answered an unexpected shape');
        nodes.push(...parsed.data.nodes);
        after = parsed.data.next;
        if (after === null) return nodes;
      }
      throw new RosterUnavailableError(`GET /v1/nodes/roster kept paging past ${MAX_PAGES} pages`);
    },
  };
}

/** The allow-list's data: `<node name>: <kind>/<stake id hex without 0x>` (read by the admission policy). */
export function allowListData(nodes: readonly RosterNode[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) data[n.name] = `${n.kind}/${n.stakeId.slice(2)}`;
  return data;
}

/** What the reconciler asks of kube-apiserver. Deletes treat "already gone" (404) as done. */
export interface KubeApi {
  listNodeNames(): Promise<string[]>;
  listPodsOnNode(nodeName: string): Promise<{ namespace: string; name: string }[]>;
  /** Force delete (grace period 0): the evicted kubelet cannot confirm a graceful one. */
  deletePod(namespace: string, name: string): Promise<void>;
  deleteNode(name: string): Promise<void>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  /** Sets the ConfigMap's data to exactly `data` (creating it if absent), leaving its metadata as it is. */
  putConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<void>;
}

export class KubeApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'KubeApiError';
  }
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string } }[];
  users?: { name: string; user: { 'client-certificate'?: string; 'client-certificate-data'?: string; 'client-key'?: string; 'client-key-data'?: string; token?: string } }[];
}

interface KubeEndpoint {
  server: URL;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

/** The server and credentials of a kubeconfig's current context (file references resolve against its directory). */
export async function loadKubeconfig(file: string): Promise<KubeEndpoint> {
  const doc = parse(await fs.readFile(file, 'utf8')) as KubeconfigFile;
  const contextName = doc['current-context'] ?? doc.contexts?.[0]?.name;
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = doc.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context?.user)?.user;
  if (!context || !cluster || !user) throw new Error(`${file}: no complete current context`);
  const dir = path.dirname(file);
  const material = async (data: string | undefined, ref: string | undefined) =>
    data !== undefined ? Buffer.from(data, 'base64') : ref !== undefined ? fs.readFile(path.resolve(dir, ref)) : undefined;
  return {
    server: new URL(cluster.server),
    ca: await material(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: await material(user['client-certificate-data'], user['client-certificate']),
    key: await material(user['client-key-data'], user['client-key']),
    token: user.token,
  };
}

type Obj = Record<string, unknown>;

/** The minimal client: JSON over HTTPS with the kubeconfig's client certificate, re-reading the file per call (K3s rotates it). */
export function httpsKubeApi(kubeconfigFile: string): KubeApi {
  const request = async (method: string, pathAndQuery: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; json: Obj }> => {
    const ep = await loadKubeconfig(kubeconfigFile);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method,
          host: ep.server.hostname,
          port: ep.server.port || 443,
          path: `${ep.server.pathname.replace(/\/$/, '')}${pathAndQuery}`,
          ca: ep.ca,
          cert: ep.cert,
          key: ep.key,
          headers: {
            accept: 'application/json',
            ...(ep.token ? { authorization: `Bearer ${ep.token}` } : {}),
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let json: Obj = {};
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj;
            } catch {
              // a non-JSON answer: its status says enough
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${pathAndQuery} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
  const expectOk = (what: string, r: { status: number; json: Obj }, allow404 = false) => {
    if (r.status >= 200 && r.status < 300) return;
    if (allow404 && r.status === 404) return;
    throw new KubeApiError(`${what}: ${r.status} ${typeof r.json.message === 'string' ? r.json.message : ''}`.trim(), r.status);
  };
  const listAll = async (what: string, base: string): Promise<Obj[]> => {
    const items: Obj[] = [];
    let cont: string | undefined;
    do {
      const sep = base.includes('?') ? '&' : '?';
      const r = await request('GET', `${base}${sep}limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      expectOk(what, r);
      items.push(...((r.json.items as Obj[] | undefined) ?? []));
      cont = ((r.json.metadata as Obj | undefined)?.continue as string | undefined) || undefined;
    } while (cont);
    return items;
  };
  const meta = (o: Obj) => (o.metadata ?? {}) as { name?: string; namespace?: string };
  const force = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 };
  return {
    async listNodeNames() {
      return (await listAll('list nodes', '/api/v1/nodes')).map((n) => meta(n).name).filter((n): n is string => typeof n === 'string');
    },
    async listPodsOnNode(nodeName) {
      const pods = await listAll(`list pods on ${nodeName}`, `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`);
      return pods.map((p) => ({ namespace: meta(p).namespace ?? '', name: meta(p).name ?? '' })).filter((p) => p.namespace && p.name);
    },
    async deletePod(namespace, name) {
      expectOk(`delete pod ${namespace}/${name}`, await request('DELETE', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, force), true);
    },
    async deleteNode(name) {
      expectOk(`delete node ${name}`, await request('DELETE', `/api/v1/nodes/${encodeURIComponent(name)}`), true);
    },
    async deleteSecret(namespace, name) {
      expectOk(`delete secret ${namespace}/${name}`, await request('DELETE', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`), true);
    },
    async putConfigMap(namespace, name, data) {
      const at = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
      // JSON Patch `add` replaces /data whole: exactly the roster, whatever anyone wrote there before; the
      // metadata K3s's manifest deployer tracks stays untouched (enclave/rbac ships the ConfigMap).
      const patched = await request('PATCH', `${at}/${encodeURIComponent(name)}`, [{ op: 'add', path: '/data', value: data }], 'application/json-patch+json');
      if (patched.status === 404) {
        const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'k3s-daas' } }, data };
        expectOk(`create configmap ${namespace}/${name}`, await request('POST', at, body));
      } else expectOk(`patch configmap ${namespace}/${name}`, patched);
    },
  };
}

export type ReconcileReport =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'reconciled'; rostered: number; deleted: string[]; failed: { name: string; error: string }[] };

export interface NodeReconcilerDeps {
  roster: RosterSource;
  kube: KubeApi;
  log(message: string, extra?: Record<string, unknown>): void;
}

export class NodeReconciler {
  private running: Promise<ReconcileReport> | undefined;

  constructor(private readonly deps: NodeReconcilerDeps) {}

  /** One round; concurrent callers share the round in progress. */
  reconcileOnce(): Promise<ReconcileReport> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<ReconcileReport> {
    const { roster, kube, log } = this.deps;
    let nodes: RosterNode[];
    try {
      nodes = await roster.fetchAll();
    } catch (err) {
      const reason = (err as Error).message;
      log('node roster unavailable: nothing changed this round', { error: reason, code: (err as RosterUnavailableError).code ?? null });
      return { outcome: 'skipped', reason };
    }
    // The allow-list first: once it is written, an evicted kubelet can no longer re-create what is deleted below.
    try {
      await kube.putConfigMap(ROSTER_CONFIGMAP.namespace, ROSTER_CONFIGMAP.name, allowListData(nodes));
    } catch (err) {
      const reason = `writing the allow-list failed: ${(err as Error).message}`;
      log('node allow-list not written: nothing deleted this round', { error: (err as Error).message });
      return { outcome: 'skipped', reason };
    }
    const allowed = new Set(nodes.map((n) => n.name));
    let present: string[];
    try {
      present = await kube.listNodeNames();
    } catch (err) {
      log('listing nodes failed: nothing deleted this round', { error: (err as Error).message });
      return { outcome: 'skipped', reason: `listing nodes failed: ${(err as Error).message}` };
    }
    const deleted: string[] = [];
    const failed: { name: string; error: string }[] = [];
    for (const name of present.filter((n) => !allowed.has(n)).sort()) {
      try {
        const pods = await this.deletePodsOn(name);
        await kube.deleteNode(name);
        const late = await this.deletePodsOn(name);
        await kube.deleteSecret('kube-system', nodePasswordSecret(name));
        deleted.push(name);
        log('node evicted: not in the roster', { node: name, podsDeleted: pods + late });
      } catch (err) {
        failed.push({ name, error: (err as Error).message });
        log('evicting a node failed; the next round retries', { node: name, error: (err as Error).message });
      }
    }
    return { outcome: 'reconciled', rostered: nodes.length, deleted, failed };
  }

  private async deletePodsOn(nodeName: string): Promise<number> {
    const pods = await this.deps.kube.listPodsOnNode(nodeName);
    for (const pod of pods) await this.deps.kube.deletePod(pod.namespace, pod.name);
    return pods.length;
  }
}
