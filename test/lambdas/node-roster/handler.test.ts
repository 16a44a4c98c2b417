// GET /v1/nodes/roster against moto's DynamoDB: the admitted set as the index decides it at read time (ASG
// and external nodes; a slashed stake, a raised node minimum, a revoked/invalidated/expired token, gone
// nodes), paging, the webhook bearer, and the refusals the reconciler must treat as "change nothing".
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { createHandler, dynamoRosterIndex } from '../../../lambdas/node-roster/handler';
import type { HttpResult } from '../../../lambdas/shared/runtime/http';
import type { NodeRecord, SealTokenRecord, StakeRecord } from '../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { decodeRosterCursor, encodeRosterCursor, rosterVerdict } from '../../../lambdas/shared/nodes/roster';
import { MIST_PER_SUI } from '../../../lambdas/shared/sui/roles';
import { createIndexTable, emulatorClient } from '../../support/index-table';
import { refusingEndpoint } from '../../support/faulty-endpoints';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';

const SECRET = 'roster-webhook-secret-0123456789';
const NOW = new Date('2026-11-23T01:00:00Z');
const position = { checkpoint: 1n, txOrdinal: 0, eventIndex: 0, txDigest: 'fixture' };
const id = (hex: string) => `0x${hex.repeat(64 / hex.length)}`;
const OWNER = id('0a');

function stake(stakeId: string, sui: bigint, status: StakeRecord['status'] = 'active'): StakeRecord {
  return { stakeId, owner: OWNER, role: 'node', amountMist: sui * MIST_PER_SUI, status, nodeId: 'machines', lastEvent: position };
}

function token(tokenId: string, stakeId: string, overrides: Partial<SealTokenRecord> = {}): SealTokenRecord {
  return {
    tokenId, stakeId, owner: OWNER, role: 'node', permissions: ['node:write'], clusterId: 'c', expiresAtMs: NOW.getTime() + 86_400_000,
    revoked: false, invalidated: false, lastEvent: position, ...overrides,
  };
}

function node(name: string, stakeId: string, joinedAt: string, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return { instanceId: name, stakeId, autoScalingGroup: overrides.kind === 'external' ? '' : 'workers-general', status: 'joined', joinedAt, ...overrides };
}

function rosterEvent(opts: { after?: string; authorization?: string | null } = {}): APIGatewayProxyEventV2 {
  const authorization = opts.authorization === undefined ? `Bearer ${SECRET}` : opts.authorization;
  return {
    version: '2.0', routeKey: 'GET /v1/nodes/roster', rawPath: '/v1/nodes/roster',
    rawQueryString: opts.after ? `after=${opts.after}` : '',
    ...(opts.after !== undefined ? { queryStringParameters: { after: opts.after } } : {}),
    headers: authorization === null ? {} : { authorization },
    requestContext: {
      accountId: '123456789012', apiId: 'api', domainName: 'api.example', domainPrefix: 'api', requestId: 'req', routeKey: 'GET /v1/nodes/roster',
      stage: '$default', time: '23/Nov/2026:01:00:00 +0000', timeEpoch: NOW.getTime(),
      http: { method: 'GET', path: '/v1/nodes/roster', protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'k3s-daas-supervisor' },
    },
    isBase64Encoded: false,
  };
}

// Every answer below is checked against the route's entry in docs/openapi.yaml.
const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
const openapi = parse(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'openapi.yaml'), 'utf8')) as { paths: Record<string, { get: { responses: Record<string, { $ref?: string; content?: { 'application/json': { schema: unknown } } }> } }> };
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema({ $id: 'https://k3s-daas.invalid/openapi', ...openapi });
function conforms(res: HttpResult): HttpResult {
  const response = openapi.paths['/v1/nodes/roster']!.get.responses[String(res.statusCode)];
  if (!response) throw new Error(`GET /v1/nodes/roster answered ${res.statusCode}, which docs/openapi.yaml does not describe`);
  const ref = response.$ref ? `https://k3s-daas.invalid/openapi${response.$ref}/content/application~1json/schema` : undefined;
  const validate = ref ? ajv.getSchema(ref)! : ajv.compile(response.content!['application/json'].schema as object);
  if (!validate(JSON.parse(res.body!))) throw new Error(`answer ${res.statusCode} does not match docs/openapi.yaml: ${ajv.errorsText(validate.errors)}`);
  return res;
}

type Roster = { nodes: { name: string; kind: string; stakeId: string }[]; next: string | null; asOf: string; coveredThroughMs: number };

let moto: Moto;
let tables = 0;

/** `null`: the indexer never recorded how far it covered the chain. */
async function freshIndex(coveredThroughMs: number | null = NOW.getTime() - 30_000) {
  const client = emulatorClient(moto.endpoint);
  const tableName = `roster-${++tables}`;
  await createIndexTable(client, tableName);
  const repo = new DynamoIndexRepository({ tableName, client });
  if (coveredThroughMs !== null) {
    await repo.putCursor({ cursor: 'c1', checkpoint: 1n, eventsSeen: 0, updatedAt: NOW.toISOString(), coveredThroughMs }, undefined);
  }
  const handler = (pageItems?: number) => createHandler({ index: dynamoRosterIndex(tableName, client), webhookSecret: async () => SECRET, maxIndexAgeSeconds: 300, now: () => NOW, pageItems });
  return { repo, handler };
}

/** Every page, following `next`, as the reconciler reads it. */
async function allPages(h: ReturnType<typeof createHandler>): Promise<{ pages: Roster[]; names: string[] }> {
  const pages: Roster[] = [];
  let after: string | undefined;
  for (let i = 0; i < 100; i++) {
    const res = conforms(await h(rosterEvent({ after })));
    expect(res.statusCode).toBe(200);
    const page = JSON.parse(res.body!) as Roster;
    pages.push(page);
    if (page.next === null) break;
    after = page.next;
  }
  return { pages, names: pages.flatMap((p) => p.nodes.map((n) => n.name)).sort() };
}

const A = id('a1');
const B = id('b2');
const TOK_A = id('7a');
const TOK_A2 = id('7b');

describe('the roster rule (pure)', () => {
  const facts = (over: Partial<Parameters<typeof rosterVerdict>[1]> = {}) => ({
    stakes: new Map([[A, stake(A, 2n)]]), tokens: new Map([[TOK_A, token(TOK_A, A)]]), nodesOfStake: new Map(), nodeMinimumMist: MIST_PER_SUI, nowMs: NOW.getTime(), ...over,
  });
  it('a token of another stake does not keep an external node', () => {
    expect(rosterVerdict(node('ext-1', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: TOK_A }), facts({ tokens: new Map([[TOK_A, token(TOK_A, B)]]) }))).toBe('token_missing');
  });
  it('an external node without a token id is not kept', () => {
    expect(rosterVerdict(node('ext-1', A, '2026-11-01T00:00:00Z', { kind: 'external' }), facts())).toBe('token_missing');
  });
  it('a node the GSI has not caught up with yet is ranked by its own joinedAt', () => {
    const older = [node('i-0aaaaaaaaaaaaaaa1', A, '2026-11-01T00:00:00Z'), node('i-0aaaaaaaaaaaaaaa2', A, '2026-11-02T00:00:00Z')];
    expect(rosterVerdict(node('i-0aaaaaaaaaaaaaaa3', A, '2026-11-03T00:00:00Z'), facts({ nodesOfStake: new Map([[A, older]]) }))).toBe('stake_insufficient');
  });
  it('a token expiring exactly now no longer counts', () => {
    expect(rosterVerdict(node('ext-1', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: TOK_A }), facts({ tokens: new Map([[TOK_A, token(TOK_A, A, { expiresAtMs: NOW.getTime() })]]) }))).toBe('token_expired');
  });
  it('the contract check itself refuses answers outside docs/openapi.yaml', () => {
    expect(() => conforms({ statusCode: 200, body: '{"nodes":[]}' })).toThrow(/does not match/);
    expect(() => conforms({ statusCode: 503, body: '{"error":"teapot","message":"x"}' })).toThrow(/does not match/);
    expect(() => conforms({ statusCode: 418, body: '{}' })).toThrow(/does not describe/);
  });

  it('cursors round-trip, and anything else is refused', () => {
    const key = { pk: 'NODE#ext-1', sk: 'NODE' };
    expect(decodeRosterCursor(encodeRosterCursor(key))).toEqual(key);
    for (const bad of ['', 'not base64!', Buffer.from('[1]').toString('base64url'), Buffer.from('{"pk":1,"sk":"x"}').toString('base64url'), Buffer.from('{"pk":"","sk":"x"}').toString('base64url')]) {
      expect(decodeRosterCursor(bad)).toBeUndefined();
    }
  });
});

describeWithMoto('GET /v1/nodes/roster (moto)', () => {
  beforeAll(async () => {
    moto = await startMoto();
  }, 120_000);
  afterAll(async () => {
    await moto?.stop();
  });

  it('lists joined ASG and external nodes of active stakes with their kind and stake; gone nodes are absent', async () => {
    const { repo, handler } = await freshIndex();
    await repo.writeEntities([
      { kind: 'stake', record: stake(A, 5n), expectedRev: 0 },
      { kind: 'token', record: token(TOK_A, A), expectedRev: 0 },
    ]);
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa1', A, '2026-11-01T00:00:00Z'));
    await repo.putNode(node('ext-aaaaaaaaaaaa-00000001', A, '2026-11-02T00:00:00Z', { kind: 'external', tokenId: TOK_A }));
    await repo.putNode(node('ext-aaaaaaaaaaaa-00000002', A, '2026-11-03T00:00:00Z', { kind: 'external', tokenId: TOK_A, status: 'gone', goneAt: '2026-11-04T00:00:00Z' }));
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa2', A, '2026-11-03T00:00:00Z', { status: 'gone', goneAt: '2026-11-04T00:00:00Z' }));
    const res = conforms(await handler()(rosterEvent()));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['cache-control']).toBe('no-store');
    const body = JSON.parse(res.body!) as Roster;
    expect(body.nodes.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { name: 'ext-aaaaaaaaaaaa-00000001', kind: 'external', stakeId: A },
      { name: 'i-0aaaaaaaaaaaaaaa1', kind: 'asg', stakeId: A },
    ]);
    expect(body).toMatchObject({ next: null, asOf: NOW.toISOString(), coveredThroughMs: NOW.getTime() - 30_000 });
  });

  it('a slashed (or unbonding) stake keeps none of its nodes; other stakes are untouched', async () => {
    const { repo, handler } = await freshIndex();
    await repo.writeEntities([
      { kind: 'stake', record: stake(A, 5n, 'slashed'), expectedRev: 0 },
      { kind: 'stake', record: stake(B, 5n, 'unbonding'), expectedRev: 0 },
      { kind: 'stake', record: stake(id('c3'), 1n), expectedRev: 0 },
      { kind: 'token', record: token(TOK_A, A, { invalidated: true }), expectedRev: 0 },
    ]);
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa1', A, '2026-11-01T00:00:00Z'));
    await repo.putNode(node('ext-aaaaaaaaaaaa-00000001', A, '2026-11-02T00:00:00Z', { kind: 'external', tokenId: TOK_A }));
    await repo.putNode(node('i-0bbbbbbbbbbbbbbb1', B, '2026-11-01T00:00:00Z'));
    await repo.putNode(node('i-0ccccccccccccccc1', id('c3'), '2026-11-01T00:00:00Z'));
    await repo.putNode(node('i-0ddddddddddddddd1', id('d4'), '2026-11-01T00:00:00Z')); // stake not in the index at all
    expect((await allPages(handler())).names).toEqual(['i-0ccccccccccccccc1']);
  });

  it('capacity shrink (the pool raised the node minimum): the first floor(amount / minimum) by joinedAt stay', async () => {
    const { repo, handler } = await freshIndex();
    await repo.writeEntities([
      { kind: 'stake', record: stake(A, 5n), expectedRev: 0 },
      { kind: 'token', record: token(TOK_A, A), expectedRev: 0 },
    ]);
    // Joined out of name order, so the order is joinedAt's; the last two tie on joinedAt and go by name
    // (ext-…01 before i-0…2).
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa3', A, '2026-11-01T00:00:00Z'));
    await repo.putNode(node('ext-aaaaaaaaaaaa-00000009', A, '2026-11-02T00:00:00Z', { kind: 'external', tokenId: TOK_A }));
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa1', A, '2026-11-03T00:00:00Z'));
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa2', A, '2026-11-04T00:00:00Z'));
    await repo.putNode(node('ext-aaaaaaaaaaaa-00000001', A, '2026-11-04T00:00:00Z', { kind: 'external', tokenId: TOK_A }));
    expect((await allPages(handler())).names).toHaveLength(5);
    await repo.writeEntities([{ kind: 'minStake', record: { role: 'node', amountMist: 2n * MIST_PER_SUI, lastEvent: position }, expectedRev: 0 }]);
    expect((await allPages(handler())).names).toEqual(['ext-aaaaaaaaaaaa-00000009', 'i-0aaaaaaaaaaaaaaa3']);
    await repo.writeEntities([{ kind: 'minStake', record: { role: 'node', amountMist: (5n * MIST_PER_SUI) / 4n, lastEvent: position }, expectedRev: 1 }]);
    expect((await allPages(handler())).names).toEqual(['ext-aaaaaaaaaaaa-00000001', 'ext-aaaaaaaaaaaa-00000009', 'i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa3']);
  });

  it('an external node whose token is revoked, invalidated, expired or unknown is out; the stake\'s ASG node stays', async () => {
    const { repo, handler } = await freshIndex();
    const [revoked, invalidated, expired, fine] = [id('71'), id('72'), id('73'), id('74')];
    await repo.writeEntities([
      { kind: 'stake', record: stake(A, 10n), expectedRev: 0 },
      { kind: 'token', record: token(revoked, A, { revoked: true }), expectedRev: 0 },
      { kind: 'token', record: token(invalidated, A, { invalidated: true }), expectedRev: 0 },
      { kind: 'token', record: token(expired, A, { expiresAtMs: NOW.getTime() - 1 }), expectedRev: 0 },
      { kind: 'token', record: token(fine, A), expectedRev: 0 },
    ]);
    await repo.putNode(node('i-0aaaaaaaaaaaaaaa1', A, '2026-11-01T00:00:00Z'));
    await repo.putNode(node('ext-revoked', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: revoked }));
    await repo.putNode(node('ext-invalidated', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: invalidated }));
    await repo.putNode(node('ext-expired', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: expired }));
    await repo.putNode(node('ext-unknown-token', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: TOK_A2 }));
    await repo.putNode(node('ext-fine', A, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: fine }));
    expect((await allPages(handler())).names).toEqual(['ext-fine', 'i-0aaaaaaaaaaaaaaa1']);
  });

  it('pages through every node: small pages give the same set as one page, each `next` resumes after the last', async () => {
    const { repo, handler } = await freshIndex();
    await repo.writeEntities([
      { kind: 'stake', record: stake(A, 100n), expectedRev: 0 },
      { kind: 'stake', record: stake(B, 100n), expectedRev: 0 },
      { kind: 'token', record: token(TOK_A, A), expectedRev: 0 },
    ]);
    const expected: string[] = [];
    for (let i = 0; i < 12; i++) {
      const name = `ext-${String(i).padStart(12, '0')}-0000000${i % 10}`;
      await repo.putNode(node(name, A, `2026-11-01T00:00:${String(i).padStart(2, '0')}Z`, { kind: 'external', tokenId: TOK_A }));
      expected.push(name);
      const asg = `i-0${String(i).padStart(16, '0')}`;
      await repo.putNode(node(asg, B, `2026-11-01T00:00:${String(i).padStart(2, '0')}Z`));
      expected.push(asg);
    }
    const small = await allPages(handler(5));
    expect(small.pages.length).toBeGreaterThan(3);
    expect(small.names).toEqual(expected.sort());
    expect((await allPages(handler())).names).toEqual(expected.sort());
  });

  it("a stake's nodes are re-read by key (consistently), past 100 of them; gone ones never count against the others", async () => {
    const { repo } = await freshIndex();
    const client = emulatorClient(moto.endpoint);
    const tableName = `roster-${tables}`;
    for (let i = 0; i < 105; i++) {
      await repo.putNode(node(`i-0${String(i).padStart(16, '0')}`, A, '2026-11-01T00:00:00Z', i % 10 === 0 ? { status: 'gone', goneAt: '2026-11-02T00:00:00Z' } : {}));
    }
    await repo.putNode(node('ext-other-stake', B, '2026-11-01T00:00:00Z', { kind: 'external', tokenId: TOK_A }));
    const joined = await dynamoRosterIndex(tableName, client).joinedNodesOfStake(A);
    expect(joined).toHaveLength(94);
    expect(joined.every((n) => n.status === 'joined' && n.stakeId === A)).toBe(true);
  }, 60_000);

  it('401 without the webhook bearer or with a wrong one, before reading anything', async () => {
    const { handler } = await freshIndex(null);
    for (const authorization of [null, 'Bearer wrong-secret-0123456789abc', `Basic ${SECRET}`, 'Bearer ']) {
      const res = conforms(await handler()(rosterEvent({ authorization })));
      expect(res.statusCode).toBe(401);
      expect(JSON.parse(res.body!)).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('400 for an `after` it did not hand out', async () => {
    const { handler } = await freshIndex();
    const res = conforms(await handler()(rosterEvent({ after: 'bm90LWEtY3Vyc29y' })));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body!)).toMatchObject({ error: 'invalid_request' });
  });

  it('503 index_stale while the indexer lags past the bound, or never recorded a position', async () => {
    for (const covered of [NOW.getTime() - 301_000, null]) {
      const { repo, handler } = await freshIndex(covered);
      await repo.writeEntities([{ kind: 'stake', record: stake(A, 5n), expectedRev: 0 }]);
      await repo.putNode(node('i-0aaaaaaaaaaaaaaa1', A, '2026-11-01T00:00:00Z'));
      const res = conforms(await handler()(rosterEvent()));
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body!)).toMatchObject({ error: 'index_stale' });
    }
  });

  it('503 backend_unavailable when the table cannot be reached, and when the webhook secret cannot be read', async () => {
    const client = emulatorClient(await refusingEndpoint());
    const down = createHandler({ index: dynamoRosterIndex('roster-down', client), webhookSecret: async () => SECRET, maxIndexAgeSeconds: 300, now: () => NOW });
    const res = conforms(await down(rosterEvent()));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!)).toMatchObject({ error: 'backend_unavailable' });

    const { WebhookSecretUnavailableError } = await import('../../../lambdas/shared/runtime/webhook-secret');
    const noSecret = createHandler({
      index: dynamoRosterIndex('roster-down', client), maxIndexAgeSeconds: 300, now: () => NOW,
      webhookSecret: async () => {
        throw new WebhookSecretUnavailableError('down');
      },
    });
    const res2 = conforms(await noSecret(rosterEvent()));
    expect(res2.statusCode).toBe(503);
    expect(JSON.parse(res2.body!)).toMatchObject({ error: 'backend_unavailable' });
  }, 60_000);
});
