// POST /v1/nodes/external/join against moto's DynamoDB with the real SDK, the real index repository and the
// real token checker (join audience): admission within the stake's capacity and refusal beyond it (ASG
// nodes of the same stake counting, through the one shared admission), every credential refusal (kubectl
// audience, user/admin tier, revoked, expired, slashed), the idempotent retry, the race for the last slot,
// the per-stake rate limit, attestation and outage paths, and malformed bodies.
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { DynamoDBClient, GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { createHandler, type ExternalJoinDeps } from '../../../lambdas/node-external-join/handler';
import { attestationDetail } from '../../../lambdas/shared/attestation/cluster-attestation';
import { StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { DynamoAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { createTokenChecker, joinAudience } from '../../../lambdas/shared/credentials/token-check';
import { KEYS } from '../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { admitNode } from '../../../lambdas/shared/nodes/admission';
import { BOOTSTRAP_TOKEN_TIMING, formatJoinToken, JOIN_TOKEN_PATTERN } from '../../../lambdas/shared/nodes/join-token';
import { DynamoJoinRateLimiter, type JoinRatePolicy } from '../../../lambdas/shared/nodes/join-rate-limit';
import { K3S_RELEASE } from '../../../lambdas/shared/nodes/k3s-release';
import { EXTERNAL_NODE_NAME_PATTERN, EXTERNAL_NODE_TAINT } from '../../../lambdas/shared/nodes/node-labels';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { DEFAULT_MIN_STAKE_MIST } from '../../../lambdas/shared/sui/roles';
import { testSettings, TEST_SETTINGS } from '../../support/enclave-settings';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { CLUSTER_ID, stakeIdOf, tokenIdOf } from '../../support/token-fixtures';
import { REGION } from '../../support/worker-fixtures';
import { expectDocumented } from './openapi-conformance';
import { buildWorld, FRESH, joinCredential, joinEvent, newRequestId, NOW, OTHER_NODE_TOKEN, TABLE, type World } from './external-harness';

const SERVER = 'https://k3s.example.com:6443';
const NODE_STAKE = stakeIdOf('node');
const NODE_MIN = DEFAULT_MIN_STAKE_MIST.node;
const RATE: JoinRatePolicy = { limit: 10, windowMs: 600_000 };

let moto: Moto;
let w: World;

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  w = await buildWorld(moto.endpoint);
}, 120_000);

function handler(overrides: Partial<ExternalJoinDeps> & { at?: Date; rate?: JoinRatePolicy; db?: DynamoDBClient } = {}) {
  const at = overrides.at ?? NOW;
  const db = overrides.db ?? w.db;
  const checker = w.checker(() => at);
  return createHandler({
    settings: { CLUSTER_ID, SERVER_URL: SERVER, INDEX_MAX_AGE_SECONDS: 300, ATTESTATION_MAX_AGE_SECONDS: 900 },
    checkCredential: (credential) => checker.check(credential),
    stakes: new DynamoIndexRepository({ tableName: TABLE, client: db }),
    registry: new NodeRegistry(db, TABLE),
    cipher: w.cipher,
    attestations: new DynamoAttestationRecordStore({ tableName: TABLE, client: db }),
    platformSettings: new StaticPlatformSettings(TEST_SETTINGS),
    rateLimiter: new DynamoJoinRateLimiter(db, TABLE, overrides.rate ?? RATE),
    now: () => at,
    ...overrides,
  });
}

type Answer = { status: number; body: Record<string, unknown>; headers: Record<string, unknown> };

async function join(body: unknown, opts: Parameters<typeof handler>[0] = {}): Promise<Answer> {
  const res = await handler(opts)(joinEvent(body));
  expectDocumented('POST /v1/nodes/external/join', res);
  return { status: res.statusCode, body: JSON.parse(res.body ?? '{}') as Record<string, unknown>, headers: (res.headers ?? {}) as Record<string, unknown> };
}

async function joinAs(opts: { role?: 'user' | 'node' | 'admin'; tokenId?: string; requestId?: string } & Parameters<typeof handler>[0] = {}): Promise<Answer> {
  const { role, tokenId, requestId, ...rest } = opts;
  // Signed when the join is made, like the CLI does.
  return join({ credential: await joinCredential({ role, tokenId, now: rest.at }), requestId: requestId ?? newRequestId() }, rest);
}

/** The answer's token must be one the enclave minted, pinning the attested CA. */
function expectPooledToken(token: unknown): string {
  expect(token).toMatch(JOIN_TOKEN_PATTERN);
  const [id, secret] = String(token).split('::')[1].split('.');
  expect(w.pool.get(id)).toBe(secret);
  expect(token).toBe(formatJoinToken(w.caPem, id, secret));
  return id;
}

describeWithMoto('POST /v1/nodes/external/join', () => {
  it('admits a node-tier token within its stake\'s capacity: server, a pooled per-node token pinning the attested CA, a label-safe name, labels, taint, release and the attestation detail', async () => {
    const requestId = newRequestId();
    const { status, body } = await joinAs({ requestId });
    expect(status).toBe(200);
    expect(body).toEqual({
      server: SERVER,
      token: expect.any(String),
      caCertPem: w.attestation.caCertPem,
      expiresAt: FRESH,
      nodeName: expect.stringMatching(EXTERNAL_NODE_NAME_PATTERN),
      labels: {
        'k3s-daas.io/stake-id-hi': NODE_STAKE.slice(2, 34),
        'k3s-daas.io/stake-id-lo': NODE_STAKE.slice(34),
        'k3s-daas.io/node-kind': 'external',
      },
      taints: [EXTERNAL_NODE_TAINT],
      k3sVersion: K3S_RELEASE.version,
      // Exactly what the kubeconfig answer carries (one shaping), so the CLI verifies it the same way.
      attestation: attestationDetail(w.attestation),
    });
    const nodeName = String(body.nodeName);
    expect(nodeName.startsWith(`ext-${NODE_STAKE.slice(2, 14)}-`)).toBe(true);
    const tokenId = expectPooledToken(body.token);
    expect((await w.registry.listBootstrapPool()).map((e) => e.tokenId)).not.toContain(tokenId);
    const claim = KEYS.bootstrapClaim(tokenId);
    expect((await w.db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: claim.pk }, sk: { S: claim.sk } } }))).Item).toMatchObject({ instanceId: { S: nodeName } });
    expect(await w.registry.getNode(nodeName)).toMatchObject({
      instanceId: nodeName,
      kind: 'external',
      tokenId: tokenIdOf('node'),
      requestId,
      stakeId: NODE_STAKE,
      autoScalingGroup: '',
      status: 'joined',
      joinedAt: NOW.toISOString(),
    });
    // Found through GSI2 like ASG nodes, so the indexer's slash eviction reaches it.
    expect((await w.index.getNode(nodeName))?.stakeId).toBe(NODE_STAKE);
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(1n);
  });

  it('refuses beyond the stake\'s capacity (stake_insufficient), ASG nodes of the same stake counting through the one shared admission', async () => {
    await w.updateStake(NODE_STAKE, { amountMist: 3n * NODE_MIN });
    // An instance of a worker group backed by this stake, admitted by the code POST /v1/nodes/join runs.
    const asg = await admitNode(
      { clusterId: CLUSTER_ID, registry: w.registry, cipher: w.cipher },
      { candidate: { name: 'i-0123456789abcdef0', stakeId: NODE_STAKE, kind: 'asg', autoScalingGroup: 'k3s-daas-dev-workers-general' }, maxNodes: 3n, attestedCaPem: w.caPem, now: NOW },
    );
    expect(asg.ok).toBe(true);
    expect((await joinAs()).status).toBe(200);
    expect((await joinAs()).status).toBe(200);
    await w.mint();
    const refused = await joinAs();
    expect(refused).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(3n);
    // Another operator's stake is counted on its own.
    expect((await joinAs({ tokenId: OTHER_NODE_TOKEN })).status).toBe(200);
  });

  it('a stake below one node minimum covers no node (403 stake_insufficient, the token check\'s verdict)', async () => {
    await w.updateStake(NODE_STAKE, { amountMist: NODE_MIN - 1n });
    expect(await joinAs()).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
  });

  it('refuses a kubectl credential (aud = cluster id) at the join route, and the webhook\'s checker refuses a join credential (wrong_audience)', async () => {
    const kubectl = await joinCredential({ audience: CLUSTER_ID });
    expect(await join({ credential: kubectl, requestId: newRequestId() })).toMatchObject({ status: 401, body: { error: 'wrong_audience' } });
    const webhook = createTokenChecker({ index: w.index, clusterId: CLUSTER_ID, freshness: { maxAgeMs: 300_000 }, now: () => NOW });
    expect(await webhook.check(await joinCredential())).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(await webhook.check(kubectl)).toMatchObject({ ok: true });
    // A join credential for another cluster is no join credential here either.
    const elsewhere = await joinCredential({ audience: joinAudience('another-cluster') });
    expect(await join({ credential: elsewhere, requestId: newRequestId() })).toMatchObject({ status: 401, body: { error: 'wrong_audience' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
  });

  it('refuses user- and admin-tier tokens (403 not_node_tier), however large their stake', async () => {
    await w.updateStake(stakeIdOf('user'), { amountMist: 100n * NODE_MIN });
    expect(await joinAs({ role: 'user' })).toMatchObject({ status: 403, body: { error: 'not_node_tier' } });
    expect(await joinAs({ role: 'admin' })).toMatchObject({ status: 403, body: { error: 'not_node_tier' } });
    expect((await w.registry.listBootstrapPool()).length).toBe(3);
  });

  it('refuses a revoked, invalidated or expired token and a slashed, unbonding or withdrawn stake (401 with the reason)', async () => {
    await w.updateToken(tokenIdOf('node'), { revoked: true });
    expect(await joinAs()).toMatchObject({ status: 401, body: { error: 'token_revoked' } });
    await w.updateToken(tokenIdOf('node'), { revoked: false, invalidated: true });
    expect(await joinAs()).toMatchObject({ status: 401, body: { error: 'token_revoked' } });
    await w.updateToken(tokenIdOf('node'), { invalidated: false, expiresAtMs: NOW.getTime() });
    expect(await joinAs()).toMatchObject({ status: 401, body: { error: 'token_expired' } });
    await w.updateToken(tokenIdOf('node'), { expiresAtMs: NOW.getTime() + 86_400_000 });
    for (const status of ['slashed', 'unbonding', 'withdrawn'] as const) {
      await w.updateStake(NODE_STAKE, { status });
      expect(await joinAs()).toMatchObject({ status: 401, body: { error: 'stake_inactive' } });
    }
    await w.updateStake(NODE_STAKE, { status: 'active' });
    // An expired credential, a token unknown to the index, a bad signature.
    const old = await joinCredential({ now: new Date(NOW.getTime() - 700_000) });
    expect(await join({ credential: old, requestId: newRequestId() })).toMatchObject({ status: 401, body: { error: 'expired' } });
    expect(await joinAs({ tokenId: '0x' + '99'.repeat(32) })).toMatchObject({ status: 401, body: { error: 'unknown_token' } });
    const good = await joinCredential();
    expect(await join({ credential: good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA'), requestId: newRequestId() })).toMatchObject({ status: 401 });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
    expect((await joinAs()).status).toBe(200);
  });

  describe('a lost answer (idempotent join)', () => {
    it('a retry with the same requestId within 5 minutes gets the same answer: same name, same token, one slot', async () => {
      const requestId = newRequestId();
      const first = await joinAs({ requestId });
      expect(first.status).toBe(200);
      const record = await w.registry.getNode(String(first.body.nodeName));
      const retry = await joinAs({ requestId, at: new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.resendWindowMs - 1000) });
      expect(retry.body).toEqual(first.body);
      expect(await w.registry.getNode(String(first.body.nodeName))).toEqual(record);
      expect(await w.registry.joinedCount(NODE_STAKE)).toBe(1n);
      expect((await w.registry.listBootstrapPool()).length).toBe(2);
    });

    it('past the window, or once the node left, the same requestId is refused (already_joined): a node name is never admitted twice', async () => {
      const requestId = newRequestId();
      const first = await joinAs({ requestId });
      expect(first.status).toBe(200);
      const later = new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.resendWindowMs);
      expect(await joinAs({ requestId, at: later })).toMatchObject({ status: 403, body: { error: 'already_joined' } });
      const nodeName = String(first.body.nodeName);
      await w.registry.markGone({ instanceId: nodeName, stakeId: NODE_STAKE, autoScalingGroup: '', now: NOW });
      expect(await joinAs({ requestId })).toMatchObject({ status: 403, body: { error: 'already_joined' } });
    });

    it('the same requestId under another stake is another node; a new requestId is a new node (second slot)', async () => {
      const requestId = newRequestId();
      await w.updateStake(NODE_STAKE, { amountMist: 2n * NODE_MIN });
      const mine = await joinAs({ requestId });
      const theirs = await joinAs({ requestId, tokenId: OTHER_NODE_TOKEN });
      const again = await joinAs();
      expect([mine.status, theirs.status, again.status]).toEqual([200, 200, 200]);
      expect(new Set([mine.body.nodeName, theirs.body.nodeName, again.body.nodeName]).size).toBe(3);
      expect(new Set([mine.body.token, theirs.body.token, again.body.token]).size).toBe(3);
    });

    it('no fresh answer once the stake was slashed: an evicted node\'s retry gets stake_inactive', async () => {
      const requestId = newRequestId();
      expect((await joinAs({ requestId })).status).toBe(200);
      await w.updateStake(NODE_STAKE, { status: 'slashed' });
      expect(await joinAs({ requestId })).toMatchObject({ status: 401, body: { error: 'stake_inactive' } });
    });
  });

  it('admits exactly one of two joins racing for the last slot: the slot is taken by the conditional write, not by an earlier read', async () => {
    // moto does not serialize concurrent transactions like DynamoDB, so the second join runs at the worst
    // moment for the first: after all of its reads and checks, just before its admission transaction.
    let interleaved: Answer | undefined;
    const second = await joinCredential();
    const interleaving = {
      send: async (command: unknown) => {
        if (!interleaved && command instanceof TransactWriteItemsCommand) interleaved = await join({ credential: second, requestId: newRequestId() });
        return w.db.send(command as never);
      },
    } as unknown as DynamoDBClient;
    const first = await join({ credential: await joinCredential(), requestId: newRequestId() }, { registry: new NodeRegistry(interleaving, TABLE) });
    expect(interleaved).toMatchObject({ status: 200 });
    expect(first).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(1n);
  });

  describe('rate limit per stake', () => {
    it('refuses new admissions past the limit with 429 rate_limited and Retry-After; a retry of an admitted request is still answered; the window slides', async () => {
      await w.updateStake(NODE_STAKE, { amountMist: 10n * NODE_MIN });
      // The indexer keeps up throughout the ten minutes this test spans.
      await w.markIndexed(NOW.getTime() + 600_000);
      const rate = { limit: 2, windowMs: 600_000 };
      const requestId = newRequestId();
      expect((await joinAs({ requestId, rate })).status).toBe(200);
      const t1 = new Date(NOW.getTime() + 60_000);
      expect((await joinAs({ rate, at: t1 })).status).toBe(200);
      const t2 = new Date(NOW.getTime() + 120_000);
      const limited = await joinAs({ rate, at: t2 });
      expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited', retryAfterSeconds: 480 } });
      expect(limited.headers['retry-after']).toBe('480');
      expect(await w.registry.joinedCount(NODE_STAKE)).toBe(2n);
      // The lost-answer retry takes nothing, so the limit does not apply to it.
      expect((await joinAs({ requestId, rate, at: t2 })).status).toBe(200);
      // Another stake has its own allowance.
      expect((await joinAs({ tokenId: OTHER_NODE_TOKEN, rate, at: t2 })).status).toBe(200);
      // Once the first admission leaves the window, one more fits, then the second's turn.
      const t3 = new Date(NOW.getTime() + 600_000);
      await w.mint();
      expect((await joinAs({ rate, at: t3 })).status).toBe(200);
      expect(await joinAs({ rate, at: t3 })).toMatchObject({ status: 429, body: { retryAfterSeconds: 60 } });
    });

    it('counts the default 10 per 10 minutes', async () => {
      await w.updateStake(NODE_STAKE, { amountMist: 20n * NODE_MIN });
      for (let i = 0; i < 8; i++) await w.mint();
      for (let i = 0; i < 10; i++) expect((await joinAs({ at: new Date(NOW.getTime() + i * 1000) })).status).toBe(200);
      expect(await joinAs({ at: new Date(NOW.getTime() + 10_000) })).toMatchObject({ status: 429, body: { error: 'rate_limited', retryAfterSeconds: 590 } });
    });
  });

  it('refuses while no fresh verified attestation exists (503 no_attestation) and for an enclave booted with other settings (403 settings_mismatch)', async () => {
    // The newest verified document is older than the bound the CLI will check it against.
    const old = { ...w.attestation, timestamp: new Date(NOW.getTime() - 900_001).toISOString() };
    expect(await joinAs({ attestations: { getLatest: async () => old } })).toMatchObject({ status: 503, body: { error: 'no_attestation' } });
    expect(await joinAs({ attestations: { getLatest: async () => undefined } })).toMatchObject({ status: 503, body: { error: 'no_attestation' } });
    const foreign = new StaticPlatformSettings(testSettings({ apiUrl: 'https://attacker.example.net' }));
    expect(await joinAs({ platformSettings: foreign })).toMatchObject({ status: 403, body: { error: 'settings_mismatch' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
  });

  it('refuses a token for another CA than the attested one (ca_not_attested) and answers 503 no_join_token while the pool is empty', async () => {
    for (const e of await w.registry.listBootstrapPool()) await w.registry.deleteBootstrapPoolEntry(e.tokenId);
    expect(await joinAs()).toMatchObject({ status: 503, body: { error: 'no_join_token' } });
    await w.registry.putBootstrapPoolEntry({ tokenId: 'hostca', expiresAt: FRESH, caSha256: 'ab'.repeat(32), ciphertext: 'AAAA' }, NOW);
    expect(await joinAs()).toMatchObject({ status: 403, body: { error: 'ca_not_attested' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
  });

  it('a stale index is refused (503 index_stale), no slot taken', async () => {
    await w.markIndexed(NOW.getTime() - 301_000);
    expect(await joinAs()).toMatchObject({ status: 503, body: { error: 'index_stale' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
  });

  it('an unreachable index or KMS is 503 backend_unavailable, never a 500', async () => {
    const dead = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    const deadIndex = createTokenChecker({ index: new DynamoIndexRepository({ tableName: TABLE, client: dead }), clusterId: CLUSTER_ID, audience: joinAudience(CLUSTER_ID), freshness: { maxAgeMs: 300_000 }, now: () => NOW });
    expect(await joinAs({ checkCredential: (c) => deadIndex.check(c) })).toMatchObject({ status: 503, body: { error: 'backend_unavailable' } });
    expect(await joinAs({ rateLimiter: new DynamoJoinRateLimiter(dead, TABLE, RATE) })).toMatchObject({ status: 503, body: { error: 'backend_unavailable' } });
    expect(await joinAs({ registry: new NodeRegistry(dead, TABLE) })).toMatchObject({ status: 503, body: { error: 'backend_unavailable' } });
    const kmsDown = { encrypt: w.cipher.encrypt.bind(w.cipher), decrypt: async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', $metadata: {} }); } };
    expect(await joinAs({ cipher: kmsDown })).toMatchObject({ status: 503, body: { error: 'backend_unavailable' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
  });

  it('answers malformed bodies with 4xx and a reason before checking anything', async () => {
    const credential = await joinCredential();
    expect(await join('not json')).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect(await join({ credential })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await join({ credential, requestId: 'short' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    // 22 base64url characters whose last one carries bits 16 bytes cannot have.
    expect(await join({ credential, requestId: 'A'.repeat(21) + 'B' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await join({ credential, requestId: newRequestId(), nodeName: 'chosen' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await join({ credential: 'x'.repeat(17 * 1024), requestId: newRequestId() })).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 64 }), fc.record({ credential: fc.string({ maxLength: 40 }), requestId: fc.string({ maxLength: 30 }) }).map((b) => JSON.stringify(b))), async (body) => {
        const res = await handler()(joinEvent(body));
        expectDocumented('POST /v1/nodes/external/join', res);
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
  });
});
