// POST /v1/nodes/external/leave against moto's DynamoDB with the real token checker (join audience): the
// node's own operator marks it gone and gets the slot back (the departure code of ASG scale-in), idempotently;
// another stake's or an ASG node is not theirs; an unknown name is 404; a kubectl credential or a user-tier
// token is refused; malformed bodies are 4xx.
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { createHandler as createJoin } from '../../../lambdas/node-external-join/handler';
import { createHandler as createLeave } from '../../../lambdas/node-external-leave/handler';
import { StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { DynamoAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { admitNode } from '../../../lambdas/shared/nodes/admission';
import { DEFAULT_JOIN_RATE, DynamoJoinRateLimiter } from '../../../lambdas/shared/nodes/join-rate-limit';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { TEST_SETTINGS } from '../../support/enclave-settings';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { CLUSTER_ID, stakeIdOf } from '../../support/token-fixtures';
import { REGION } from '../../support/worker-fixtures';
import { expectDocumented } from './openapi-conformance';
import { buildWorld, joinCredential, joinEvent, leaveEvent, newRequestId, NOW, OTHER_NODE_TOKEN, TABLE, type World } from './external-harness';

const NODE_STAKE = stakeIdOf('node');

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

function leaveHandler(registry: NodeRegistry = w.registry) {
  const checker = w.checker();
  return createLeave({ checkCredential: (c) => checker.check(c), registry, now: () => NOW });
}

async function leave(body: unknown, registry?: NodeRegistry) {
  const res = await leaveHandler(registry)(leaveEvent(body));
  expectDocumented('POST /v1/nodes/external/leave', res);
  return { status: res.statusCode, body: JSON.parse(res.body ?? '{}') as Record<string, unknown> };
}

/** Admits an external node of `tokenId`'s stake through the real join route; returns its name. */
async function admitted(tokenId?: string): Promise<string> {
  const checker = w.checker();
  const join = createJoin({
    settings: { CLUSTER_ID, SERVER_URL: 'https://k3s.example.com:6443', INDEX_MAX_AGE_SECONDS: 300, ATTESTATION_MAX_AGE_SECONDS: 900 },
    checkCredential: (c) => checker.check(c),
    stakes: w.index,
    registry: w.registry,
    cipher: w.cipher,
    attestations: new DynamoAttestationRecordStore({ tableName: TABLE, client: w.db }),
    platformSettings: new StaticPlatformSettings(TEST_SETTINGS),
    rateLimiter: new DynamoJoinRateLimiter(w.db, TABLE, DEFAULT_JOIN_RATE),
    now: () => NOW,
  });
  const res = await join(joinEvent({ credential: await joinCredential({ tokenId }), requestId: newRequestId() }));
  expect(res.statusCode).toBe(200);
  return JSON.parse(res.body!).nodeName as string;
}

describeWithMoto('POST /v1/nodes/external/leave', () => {
  it('marks the node gone and gives its slot back; leaving again answers the same (idempotent); its name never joins again', async () => {
    const nodeName = await admitted();
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(1n);
    // The stake covers one node: taken.
    const credential = await joinCredential();
    expect(await leave({ credential, nodeName })).toEqual({ status: 200, body: { nodeName, status: 'gone' } });
    expect(await w.registry.getNode(nodeName)).toMatchObject({ status: 'gone', goneAt: NOW.toISOString(), kind: 'external' });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
    expect(await leave({ credential, nodeName })).toEqual({ status: 200, body: { nodeName, status: 'gone' } });
    expect(await w.registry.joinedCount(NODE_STAKE)).toBe(0n);
    // The slot is free for a new machine.
    expect(await admitted()).not.toBe(nodeName);
  });

  it('refuses an unknown node (404 unknown_node), another stake\'s node and an ASG node (403 not_your_node)', async () => {
    const credential = await joinCredential();
    expect(await leave({ credential, nodeName: 'ext-000000000000-00000000' })).toMatchObject({ status: 404, body: { error: 'unknown_node' } });
    const theirs = await admitted(OTHER_NODE_TOKEN);
    expect(await leave({ credential, nodeName: theirs })).toMatchObject({ status: 403, body: { error: 'not_your_node' } });
    expect((await w.registry.getNode(theirs))?.status).toBe('joined');
    // An instance of a worker group backed by the caller's own stake leaves by scale-in, not here.
    const asg = await admitNode(
      { clusterId: CLUSTER_ID, registry: w.registry, cipher: w.cipher },
      { candidate: { name: 'i-0123456789abcdef0', stakeId: NODE_STAKE, kind: 'asg', autoScalingGroup: 'g' }, maxNodes: 1n, attestedCaPem: w.caPem, now: NOW },
    );
    expect(asg.ok).toBe(true);
    expect(await leave({ credential, nodeName: 'i-0123456789abcdef0' })).toMatchObject({ status: 403, body: { error: 'not_your_node' } });
    expect((await w.registry.getNode('i-0123456789abcdef0'))?.status).toBe('joined');
  });

  it('refuses a kubectl credential (401 wrong_audience), a user-tier token (403 not_node_tier) and a revoked token (401 token_revoked)', async () => {
    const nodeName = await admitted();
    expect(await leave({ credential: await joinCredential({ audience: CLUSTER_ID }), nodeName })).toMatchObject({ status: 401, body: { error: 'wrong_audience' } });
    expect(await leave({ credential: await joinCredential({ role: 'user' }), nodeName })).toMatchObject({ status: 403, body: { error: 'not_node_tier' } });
    await w.updateToken(OTHER_NODE_TOKEN, { revoked: true });
    expect(await leave({ credential: await joinCredential({ tokenId: OTHER_NODE_TOKEN }), nodeName })).toMatchObject({ status: 401, body: { error: 'token_revoked' } });
    expect((await w.registry.getNode(nodeName))?.status).toBe('joined');
  });

  it('an unreachable index is 503 backend_unavailable', async () => {
    const nodeName = await admitted();
    const dead = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
    expect(await leave({ credential: await joinCredential(), nodeName }, new NodeRegistry(dead, TABLE))).toMatchObject({ status: 503, body: { error: 'backend_unavailable' } });
  });

  it('answers malformed bodies with 4xx and a reason', async () => {
    const credential = await joinCredential();
    expect(await leave('{')).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect(await leave({ credential })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await leave({ credential, nodeName: 'Not_A_Name' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await leave({ credential, nodeName: 'a'.repeat(64) })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 64 }), async (body) => {
        const res = await leaveHandler()(leaveEvent(body));
        expectDocumented('POST /v1/nodes/external/leave', res);
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 50 },
    );
  });
});

