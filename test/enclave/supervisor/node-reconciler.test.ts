// The in-enclave node reconciler off-hardware: the roster client against recorded answers of the route
// (paging, bearer, refusals), and rounds against an in-memory kube-apiserver that records every call — what
// is deleted and in which order, and that a roster or allow-list failure changes nothing. The real
// kube-apiserver run is test/e2e/nodes.e2e.ts.
import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  allowListData, httpsRosterSource, loadKubeconfig, nodePasswordSecret, NodeReconciler, ROSTER_CONFIGMAP, RosterUnavailableError,
  type KubeApi, type RosterNode, type RosterSource,
} from '../../../enclave/src/supervisor/node-reconciler';

const STAKE = '0x' + 'a1'.repeat(32);
const API = 'https://abc123.execute-api.us-east-1.amazonaws.com/';
const SECRET = 'webhook-secret-0123456789abcdef';

function answer(status: number, body: unknown): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function recordingFetch(answers: ((url: URL) => Response)[]) {
  const calls: { url: URL; authorization: string | null }[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push({ url, authorization: new Headers(init?.headers).get('authorization') });
    const next = answers.shift();
    if (!next) throw new Error('unexpected request');
    return next(url);
  }) as typeof fetch;
  return { calls, fetchImpl };
}

const page = (nodes: RosterNode[], next: string | null) => ({ nodes, next, asOf: '2026-11-23T01:00:00.000Z', coveredThroughMs: 1 });
const asg = (name: string): RosterNode => ({ name, kind: 'asg', stakeId: STAKE });

describe('roster client', () => {
  it('follows `next` through every page with the webhook bearer, at the pinned API URL', async () => {
    const { calls, fetchImpl } = recordingFetch([
      () => answer(200, page([asg('i-0aaaaaaaaaaaaaaa1')], 'cursor-1')),
      () => answer(200, page([], 'cursor/2+')),
      () => answer(200, page([{ name: 'ext-a1a1a1a1a1a1-00000001', kind: 'external', stakeId: STAKE }], null)),
    ]);
    const nodes = await httpsRosterSource(API, SECRET, fetchImpl).fetchAll();
    expect(nodes.map((n) => n.name)).toEqual(['i-0aaaaaaaaaaaaaaa1', 'ext-a1a1a1a1a1a1-00000001']);
    expect(calls.map((c) => `${c.url.origin}${c.url.pathname}${c.url.search}`)).toEqual([
      'https://abc123.execute-api.us-east-1.amazonaws.com/v1/nodes/roster',
      'https://abc123.execute-api.us-east-1.amazonaws.com/v1/nodes/roster?after=cursor-1',
      'https://abc123.execute-api.us-east-1.amazonaws.com/v1/nodes/roster?after=cursor%2F2%2B',
    ]);
    expect(calls.every((c) => c.authorization === `Bearer ${SECRET}`)).toBe(true);
  });

  it('keeps a stage path of the API URL', async () => {
    const { calls, fetchImpl } = recordingFetch([() => answer(200, page([], null))]);
    await httpsRosterSource('https://api.example.com/prod/', SECRET, fetchImpl).fetchAll();
    expect(calls[0]!.url.href).toBe('https://api.example.com/prod/v1/nodes/roster');
  });

  it.each([
    ['a stale index', () => answer(503, { error: 'index_stale', message: 'the index is 400 s behind' }), /503 index_stale/, 'index_stale'],
    ['an outage', () => answer(503, { error: 'backend_unavailable', message: 'x' }), /503 backend_unavailable/, 'backend_unavailable'],
    ['a wrong secret', () => answer(401, { error: 'unauthorized', message: 'x' }), /401 unauthorized/, 'unauthorized'],
    ['API Gateway throttling', () => answer(429, { message: 'Too Many Requests' }), /429/, undefined],
    ['a body that is not JSON', () => answer(200, '<html>'), /without JSON/, undefined],
    ['an unexpected shape', () => answer(200, { nodes: [{ name: 'UPPER', kind: 'asg', stakeId: STAKE }], next: null, asOf: 'x', coveredThroughMs: 1 }), /unexpected shape/, undefined],
    ['an unknown kind', () => answer(200, page([{ ...asg('i-0aaaaaaaaaaaaaaa1'), kind: 'pet' as 'asg' }], null)), /unexpected shape/, undefined],
    ['a network failure', () => { throw new TypeError('fetch failed'); }, /fetch failed/, undefined],
  ])('refuses %s as RosterUnavailableError', async (_what, respond, message, code) => {
    const { fetchImpl } = recordingFetch([respond as (url: URL) => Response]);
    const error = await httpsRosterSource(API, SECRET, fetchImpl).fetchAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RosterUnavailableError);
    expect((error as Error).message).toMatch(message);
    expect((error as RosterUnavailableError).code).toBe(code);
  });

  it('a failure on a later page loses the pages before it (never a partial roster)', async () => {
    const { fetchImpl } = recordingFetch([() => answer(200, page([asg('i-0aaaaaaaaaaaaaaa1')], 'c1')), () => answer(503, { error: 'index_stale', message: 'x' })]);
    await expect(httpsRosterSource(API, SECRET, fetchImpl).fetchAll()).rejects.toThrow(RosterUnavailableError);
  });
});

/** A kube-apiserver in memory: nodes, pods (name → node), secrets and ConfigMaps, with every call recorded. */
class MemoryKube implements KubeApi {
  calls: string[] = [];
  nodes = new Set<string>();
  pods = new Map<string, string>();
  secrets = new Set<string>();
  configMaps = new Map<string, Record<string, string>>();
  failOn = new Set<string>();
  /** Pods the "scheduler" binds while the node is being deleted (to be caught by the second sweep). */
  bindDuringDelete = new Map<string, string>();

  private step(call: string) {
    this.calls.push(call);
    for (const f of this.failOn) if (call.startsWith(f)) throw new Error(`${call} refused`);
  }
  async listNodeNames() {
    this.step('list nodes');
    return [...this.nodes];
  }
  async listPodsOnNode(node: string) {
    this.step(`list pods ${node}`);
    return [...this.pods].filter(([, n]) => n === node).map(([key]) => ({ namespace: key.split('/')[0]!, name: key.split('/')[1]! }));
  }
  async deletePod(ns: string, name: string) {
    this.step(`delete pod ${ns}/${name}`);
    this.pods.delete(`${ns}/${name}`);
  }
  async deleteNode(name: string) {
    this.step(`delete node ${name}`);
    this.nodes.delete(name);
    const late = this.bindDuringDelete.get(name);
    if (late) this.pods.set(late, name);
  }
  async deleteSecret(ns: string, name: string) {
    this.step(`delete secret ${ns}/${name}`);
    this.secrets.delete(`${ns}/${name}`);
  }
  async putConfigMap(ns: string, name: string, data: Record<string, string>) {
    this.step(`put configmap ${ns}/${name}`);
    this.configMaps.set(`${ns}/${name}`, { ...data });
  }
}

const staticRoster = (nodes: RosterNode[]): RosterSource => ({ fetchAll: async () => nodes });
const failingRoster = (code: string): RosterSource => ({
  fetchAll: async () => {
    throw new RosterUnavailableError(`GET /v1/nodes/roster answered 503 ${code}`, code);
  },
});

function cluster(): MemoryKube {
  const kube = new MemoryKube();
  for (const n of ['i-0aaaaaaaaaaaaaaa1', 'ext-evicted', 'i-0evicted0000000']) {
    kube.nodes.add(n);
    kube.secrets.add(`kube-system/${nodePasswordSecret(n)}`);
  }
  kube.pods.set('default/web-1', 'ext-evicted');
  kube.pods.set('tenant/db-0', 'ext-evicted');
  kube.pods.set('default/web-2', 'i-0aaaaaaaaaaaaaaa1');
  kube.pods.set('default/pending', '');
  kube.secrets.add('tenant/app-secret');
  return kube;
}

describe('reconciler rounds', () => {
  const log = () => undefined;

  it('writes the allow-list, then evicts every Node outside the roster: pods, Node, pods again, password secret', async () => {
    const kube = cluster();
    kube.bindDuringDelete.set('ext-evicted', 'default/late');
    const roster = [asg('i-0aaaaaaaaaaaaaaa1'), { name: 'ext-not-registered-yet', kind: 'external' as const, stakeId: STAKE }];
    const report = await new NodeReconciler({ roster: staticRoster(roster), kube, log }).reconcileOnce();
    expect(report).toEqual({ outcome: 'reconciled', rostered: 2, deleted: ['ext-evicted', 'i-0evicted0000000'], failed: [] });
    expect(kube.configMaps.get(`${ROSTER_CONFIGMAP.namespace}/${ROSTER_CONFIGMAP.name}`)).toEqual({
      'ext-not-registered-yet': `external/${STAKE.slice(2)}`, 'i-0aaaaaaaaaaaaaaa1': `asg/${STAKE.slice(2)}`,
    });
    expect(kube.calls).toEqual([
      'put configmap kube-system/k3s-daas-node-roster',
      'list nodes',
      'list pods ext-evicted', 'delete pod default/web-1', 'delete pod tenant/db-0',
      'delete node ext-evicted',
      'list pods ext-evicted', 'delete pod default/late',
      'delete secret kube-system/ext-evicted.node-password.k3s',
      'list pods i-0evicted0000000', 'delete node i-0evicted0000000', 'list pods i-0evicted0000000',
      'delete secret kube-system/i-0evicted0000000.node-password.k3s',
    ]);
    expect([...kube.nodes]).toEqual(['i-0aaaaaaaaaaaaaaa1']);
    expect([...kube.pods.keys()].sort()).toEqual(['default/pending', 'default/web-2']);
    expect([...kube.secrets].sort()).toEqual(['kube-system/i-0aaaaaaaaaaaaaaa1.node-password.k3s', 'tenant/app-secret']);
  });

  it.each(['index_stale', 'backend_unavailable'])('a roster refused with %s changes nothing: no allow-list write, no deletion', async (code) => {
    const kube = cluster();
    const messages: string[] = [];
    const report = await new NodeReconciler({ roster: failingRoster(code), kube, log: (m, extra) => messages.push(`${m} ${JSON.stringify(extra)}`) }).reconcileOnce();
    expect(report).toMatchObject({ outcome: 'skipped' });
    expect(kube.calls).toEqual([]);
    expect(messages.join('\n')).toContain(code);
  });

  it('an allow-list that cannot be written, or nodes that cannot be listed, deletes nothing', async () => {
    for (const fail of ['put configmap', 'list nodes']) {
      const kube = cluster();
      kube.failOn.add(fail);
      const report = await new NodeReconciler({ roster: staticRoster([asg('i-0aaaaaaaaaaaaaaa1')]), kube, log }).reconcileOnce();
      expect(report).toMatchObject({ outcome: 'skipped' });
      expect(kube.calls.filter((c) => c.startsWith('delete'))).toEqual([]);
      expect(kube.nodes.size).toBe(3);
    }
  });

  it('a node whose eviction fails is reported and retried next round; the others are still evicted', async () => {
    const kube = cluster();
    kube.failOn.add('delete node ext-evicted');
    const reconciler = new NodeReconciler({ roster: staticRoster([asg('i-0aaaaaaaaaaaaaaa1')]), kube, log });
    const first = await reconciler.reconcileOnce();
    expect(first).toMatchObject({ outcome: 'reconciled', deleted: ['i-0evicted0000000'], failed: [{ name: 'ext-evicted' }] });
    expect(kube.nodes.has('ext-evicted')).toBe(true);
    kube.failOn.clear();
    expect(await reconciler.reconcileOnce()).toMatchObject({ outcome: 'reconciled', deleted: ['ext-evicted'], failed: [] });
    expect(kube.secrets.has('kube-system/ext-evicted.node-password.k3s')).toBe(false);
  });

  it('an empty roster (every stake slashed) evicts every node; a round that finds nothing to do deletes nothing', async () => {
    const kube = cluster();
    const reconciler = new NodeReconciler({ roster: staticRoster([]), kube, log });
    expect(await reconciler.reconcileOnce()).toMatchObject({ deleted: ['ext-evicted', 'i-0aaaaaaaaaaaaaaa1', 'i-0evicted0000000'] });
    expect(kube.configMaps.get('kube-system/k3s-daas-node-roster')).toEqual({});
    kube.calls = [];
    expect(await reconciler.reconcileOnce()).toMatchObject({ deleted: [], failed: [] });
    expect(kube.calls).toEqual(['put configmap kube-system/k3s-daas-node-roster', 'list nodes']);
  });

  it('overlapping calls share one round', async () => {
    const kube = cluster();
    let fetches = 0;
    const reconciler = new NodeReconciler({ roster: { fetchAll: async () => (fetches++, [asg('i-0aaaaaaaaaaaaaaa1')]) }, kube, log });
    const [a, b] = await Promise.all([reconciler.reconcileOnce(), reconciler.reconcileOnce()]);
    expect(a).toBe(b);
    expect(fetches).toBe(1);
  });

  it('the allow-list data is name → kind/stake hex, sorted by name', () => {
    expect(Object.entries(allowListData([asg('i-0b'), { name: 'ext-a', kind: 'external', stakeId: STAKE }]))).toEqual([
      ['ext-a', `external/${STAKE.slice(2)}`], ['i-0b', `asg/${STAKE.slice(2)}`],
    ]);
  });
});

describe('admin kubeconfig', () => {
  it('reads the current context, with embedded data or files relative to the kubeconfig', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-'));
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'CA');
    fs.writeFileSync(path.join(dir, 'client.key'), 'KEY');
    const file = path.join(dir, 'admin.kubeconfig');
    fs.writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'default',
      clusters: [{ name: 'other', cluster: { server: 'https://wrong:1' } }, { name: 'default', cluster: { server: 'https://127.0.0.1:6444', 'certificate-authority': 'ca.crt' } }],
      users: [{ name: 'default', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key': path.join(dir, 'client.key') } }],
      contexts: [{ name: 'default', context: { cluster: 'default', user: 'default' } }],
    }));
    const ep = await loadKubeconfig(file);
    expect(ep.server.href).toBe('https://127.0.0.1:6444/');
    expect([ep.ca?.toString(), ep.cert?.toString(), ep.key?.toString()]).toEqual(['CA', 'CERT', 'KEY']);
    fs.writeFileSync(file, JSON.stringify({ 'current-context': 'missing', contexts: [] }));
    await expect(loadKubeconfig(file)).rejects.toThrow(/no complete current context/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
