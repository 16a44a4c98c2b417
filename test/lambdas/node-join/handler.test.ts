// POST /v1/nodes/join against moto (EC2 instances launched by real moto ASGs, the index table in moto's
// DynamoDB) with a local KMS stand-in: one test per admission rule, the per-node bootstrap tokens (never
// one token for two instances, none past its time, none for another CA), the idempotent retry of an
// admission whose answer was lost, and the malformed-request paths.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, QueryCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { EnterStandbyCommand, SetInstanceHealthCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import fc from 'fast-check';
import { createHash, X509Certificate } from 'node:crypto';
import { createHandler, type NodeJoinSettings } from '../../../lambdas/node-join/handler';
import { KEYS, TABLE_INDEXES } from '../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { DynamoAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { StaticPlatformSettings, type PlatformSettingsSource } from '../../../lambdas/shared/attestation/platform-settings';
import { settingsDigest } from '../../../lambdas/shared/attestation/enclave-claims';
import { TEST_SETTINGS, testSettings } from '../../support/enclave-settings';
import { BOOTSTRAP_TOKEN_TIMING, formatJoinToken, JOIN_TOKEN_PATTERN, type BootstrapPoolEntry } from '../../../lambdas/shared/nodes/join-token';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { MIST_PER_SUI } from '../../../lambdas/shared/sui/roles';
import { createClusterCaPem } from '../../support/cluster-ca';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { ACCOUNT, clients, createIndexTable, createWorkerGroup, FakeKmsCipher, mintPoolEntry, putStake, REGION } from '../../support/worker-fixtures';

const TABLE = 'index';
const CLUSTER = 'k3s-daas-test';
const WORKER_ROLE = 'k3s-daas-test-worker';
const GENERAL = 'k3s-daas-test-workers-general';
const GPU = 'k3s-daas-test-workers-gpu';
const FOREIGN = 'someone-elses-asg';
const STAKE_GENERAL = '0x' + '0'.repeat(63) + 'c';
const STAKE_GPU = '0x' + '0'.repeat(63) + 'd';
let attestedCaPem: string;
const SERVER = 'https://k3s.example.com:6443';
const NOW = new Date('2026-11-23T00:00:00Z');
const FRESH = new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.ttlMs).toISOString();
/** The pool as the enclave filled it in beforeEach: token id → secret. */
let pool: Map<string, string>;

let moto: Moto;
let c: ReturnType<typeof clients>;
let cipher: FakeKmsCipher;
let registry: NodeRegistry;
let instances: { general: string[]; gpu: string[]; foreign: string[] };

const settings: NodeJoinSettings = {
  TABLE_NAME: TABLE,
  CLUSTER_ID: CLUSTER,
  SERVER_URL: SERVER,
  JOIN_TOKEN_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/join',
  API_URL: TEST_SETTINGS.apiUrl,
  CLUSTER_STATE_KEY_ID: TEST_SETTINGS.clusterStateKeyId,
  JOIN_TOKEN_KEY_ID: TEST_SETTINGS.joinTokenKeyId,
  KUBECONFIG_SIGNING_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/signing',
  WORKER_ROLE_NAME: WORKER_ROLE,
  WORKER_GROUPS: [
    { autoScalingGroup: GENERAL, stakeId: STAKE_GENERAL },
    { autoScalingGroup: GPU, stakeId: STAKE_GPU },
  ],
  INDEX_MAX_AGE_SECONDS: 300,
};

function joinEvent(
  instanceId: string,
  overrides: { body?: string; userArn?: string; userId?: string; isBase64Encoded?: boolean; noAuthorizer?: boolean } = {},
): APIGatewayProxyEventV2WithIAMAuthorizer {
  const userArn = overrides.userArn ?? `arn:aws:sts::${ACCOUNT}:assumed-role/${WORKER_ROLE}/${instanceId}`;
  return {
    version: '2.0',
    routeKey: 'POST /v1/nodes/join',
    rawPath: '/v1/nodes/join',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    body: overrides.body ?? '{}',
    isBase64Encoded: overrides.isBase64Encoded ?? false,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'api',
      domainName: 'api.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'api',
      http: { method: 'POST', path: '/v1/nodes/join', protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'curl' },
      requestId: 'r',
      routeKey: 'POST /v1/nodes/join',
      stage: '$default',
      time: '',
      timeEpoch: 0,
      authorizer: (overrides.noAuthorizer
        ? undefined
        : {
            iam: {
              accessKey: 'ASIAEXAMPLE',
              accountId: ACCOUNT,
              callerId: `AROAEXAMPLE:${instanceId}`,
              cognitoIdentity: null,
              principalOrgId: '',
              userArn,
              userId: overrides.userId ?? `AROAEXAMPLE:${instanceId}`,
            },
          }) as never,
    },
  };
}

function handler(admissions: NodeRegistry = registry, at: Date = NOW) {
  return createHandler({
    settings,
    autoScaling: c.autoScaling,
    registry: admissions,
    stakes: new DynamoIndexRepository({ tableName: TABLE, client: c.db }),
    cipher,
    attestations: new DynamoAttestationRecordStore({ tableName: TABLE, client: c.db }),
    platformSettings,
    now: () => at,
  });
}

/** One pool entry as the enclave mints it (default: fresh, for the attested CA, for this cluster). */
async function mint(opts: { caPem?: string; expiresAt?: string; contextCluster?: string } = {}) {
  const minted = await mintPoolEntry(cipher, registry, { clusterId: CLUSTER, caPem: opts.caPem ?? attestedCaPem, expiresAt: opts.expiresAt ?? FRESH, contextCluster: opts.contextCluster });
  pool.set(minted.entry.tokenId, minted.secret);
  return minted;
}

async function emptyPool() {
  for (const entry of await registry.listBootstrapPool()) await registry.deleteBootstrapPoolEntry(entry.tokenId);
}

/** The answer's token must be one the enclave minted, pinning the attested CA. */
function expectPooledToken(token: string) {
  expect(token).toMatch(JOIN_TOKEN_PATTERN);
  const [id, secret] = token.split('::')[1].split('.');
  expect(pool.get(id)).toBe(secret);
  expect(token).toBe(formatJoinToken(attestedCaPem, id, secret));
  return id;
}

async function deleteItem(key: { pk: string; sk: string }) {
  await c.db.send(new DeleteItemCommand({ TableName: TABLE, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
}

async function call(event: APIGatewayProxyEventV2WithIAMAuthorizer, at: Date = NOW) {
  const res = await handler(registry, at)(event);
  return { status: res.statusCode, body: JSON.parse(res.body ?? '{}') as Record<string, string> };
}

/** The platform's own enclave boot settings; a test may swap them to act as a redeployed platform. */
let platformSettings: PlatformSettingsSource = new StaticPlatformSettings(TEST_SETTINGS);

async function attest(caPem: string) {
  await new DynamoAttestationRecordStore({ tableName: TABLE, client: c.db }).putLatest({
    settingsSha256: settingsDigest(TEST_SETTINGS).toString('hex'),
    pcrs: { PCR0: '00'.repeat(48) },
    caSha256: createHash('sha256').update(new X509Certificate(caPem).raw).digest('hex'),
    // As verifyClusterAttestation stores it.
    caCertPem: new X509Certificate(caPem).toString(),
    moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
    timestamp: '2026-11-23T00:00:00.000Z',
    verifiedAt: '2026-11-23T00:00:01.000Z',
  });
}

beforeAll(async () => {
  attestedCaPem = await createClusterCaPem();
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  c = clients(moto.endpoint);
  cipher = new FakeKmsCipher();
  registry = new NodeRegistry(c.db, TABLE);
  await createIndexTable(c.db, TABLE);
  instances = {
    general: await createWorkerGroup(c.ec2, c.autoScaling, GENERAL, 3),
    gpu: await createWorkerGroup(c.ec2, c.autoScaling, GPU, 1),
    foreign: await createWorkerGroup(c.ec2, c.autoScaling, FOREIGN, 1),
  };
  await putStake(c.db, TABLE, STAKE_GENERAL, 5n * MIST_PER_SUI, 'active');
  await putStake(c.db, TABLE, STAKE_GPU, 1n * MIST_PER_SUI, 'active');
  pool = new Map();
  for (let i = 0; i < 3; i++) await mint();
  await attest(attestedCaPem);
  await markIndexed(NOW.getTime());
  // Three moto ASGs per test: generous on a shared, loaded machine; no outcome depends on it.
}, 180_000);

/** As an indexer run leaves the cursor: the chain covered up to `coveredThroughMs`. */
async function markIndexed(coveredThroughMs: number) {
  const repo = new DynamoIndexRepository({ tableName: TABLE, client: c.db });
  const previous = await repo.getCursor();
  await repo.putCursor({ cursor: `c-${coveredThroughMs}`, checkpoint: 1n, eventsSeen: 0, updatedAt: NOW.toISOString(), coveredThroughMs }, previous);
}

describeWithMoto('POST /v1/nodes/join', () => {
  it('admits a running instance of a worker group with the server, a pooled bootstrap token pinning the attested CA and its instance id as node name', async () => {
    const id = instances.general[0];
    const { status, body } = await call(joinEvent(id));
    expect(status).toBe(200);
    expect(body).toEqual({ server: SERVER, token: expect.any(String), nodeName: id, expiresAt: FRESH });
    const tokenId = expectPooledToken(body.token);
    // Taken out of the pool and claimed for good, in the admission transaction.
    expect((await registry.listBootstrapPool()).map((e) => e.tokenId)).not.toContain(tokenId);
    const claim = await c.db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: KEYS.bootstrapClaim(tokenId).pk }, sk: { S: KEYS.bootstrapClaim(tokenId).sk } } }));
    expect(claim.Item).toMatchObject({ instanceId: { S: id } });

    const { Item } = await c.db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: KEYS.node(id).pk }, sk: { S: KEYS.node(id).sk } } }));
    expect(Item).toMatchObject({ status: { S: 'joined' }, stakeId: { S: STAKE_GENERAL }, autoScalingGroup: { S: GENERAL }, gsi2pk: { S: `STAKE#${STAKE_GENERAL}` } });
    // The indexer evicts a slashed stake's nodes by reading them through GSI2.
    const byStake = await c.db.send(
      new QueryCommand({ TableName: TABLE, IndexName: TABLE_INDEXES.byStake, KeyConditionExpression: 'gsi2pk = :p', ExpressionAttributeValues: { ':p': { S: `STAKE#${STAKE_GENERAL}` } } }),
    );
    expect(byStake.Items?.map((i) => i.instanceId?.S)).toEqual([id]);
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
  });

  it('admits a join without a body as one with `{}` (the body is optional in docs/openapi.yaml)', async () => {
    const [first, second] = instances.general;
    expect((await call(joinEvent(first, { body: '' }))).status).toBe(200);
    const absent = joinEvent(second);
    delete (absent as { body?: string }).body;
    expect(await call(absent)).toMatchObject({ status: 200, body: { server: SERVER, nodeName: second } });
  });

  it('gives every instance its own token: one node\'s secret is never another node\'s', async () => {
    const ids = await Promise.all(instances.general.map(async (id) => expectPooledToken((await call(joinEvent(id))).body.token)));
    expect(new Set(ids).size).toBe(3);
    expect(await registry.listBootstrapPool()).toEqual([]);
    // The pool is empty now: a fourth instance waits for the enclave to refill it instead of sharing a token.
    expect(await call(joinEvent(instances.gpu[0]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
  });

  it('never hands a claimed token to a second instance, even when the untrusted host puts its pool item back', async () => {
    await emptyPool();
    const { entry } = await mint();
    expect((await call(joinEvent(instances.general[0]))).status).toBe(200);
    // The master role may write the pool partition: it replays the claimed entry.
    await registry.putBootstrapPoolEntry(entry, new Date());
    expect(await call(joinEvent(instances.general[1]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
    expect(await registry.getNode(instances.general[1])).toBeUndefined();
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
  });

  it('never hands out a token that expires too soon for its node to use it, nor one whose attributes were edited (no_join_token)', async () => {
    await emptyPool();
    const soon = new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs - 1000).toISOString();
    await mint({ expiresAt: soon });
    await mint({ expiresAt: new Date(NOW.getTime() - 1000).toISOString() });
    // The host extends an entry's expiry: the ciphertext no longer opens under the edited binding.
    const { entry } = await mint({ expiresAt: soon });
    await registry.putBootstrapPoolEntry({ ...entry, expiresAt: FRESH } as BootstrapPoolEntry, new Date());
    const id = instances.general[0];
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
    expect(await registry.getNode(id)).toBeUndefined();
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(0n);
  });

  it('refuses a second join of the same instance once its first answer is past the resend window (already_joined)', async () => {
    const id = instances.general[0];
    expect((await call(joinEvent(id))).status).toBe(200);
    const later = new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.resendWindowMs);
    expect(await call(joinEvent(id), later)).toMatchObject({ status: 403, body: { error: 'already_joined' } });
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
    expect((await registry.listBootstrapPool()).length).toBe(2);
  });

  it('refuses an instance that left (gone), even within what would be its resend window (already_joined)', async () => {
    const id = instances.general[0];
    expect((await call(joinEvent(id))).status).toBe(200);
    await registry.markGone({ instanceId: id, stakeId: STAKE_GENERAL, autoScalingGroup: GENERAL, now: NOW });
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'already_joined' } });
  });

  describe('a lost join answer (idempotent join)', () => {
    it('a retry by the same instance gets the same admission again: same record, same token, one slot', async () => {
      const id = instances.general[0];
      const first = await call(joinEvent(id));
      expect(first.status).toBe(200);
      const record = await registry.getNode(id);
      // The answer never reached the instance; it retries a little later.
      const retry = await call(joinEvent(id), new Date(NOW.getTime() + BOOTSTRAP_TOKEN_TIMING.resendWindowMs - 1000));
      expect(retry).toEqual(first);
      expect(await registry.getNode(id)).toEqual(record);
      expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
      expect((await registry.listBootstrapPool()).length).toBe(2);
    });

    it('an SDK retry of the committed admission transaction (its response lost on the wire) still answers 200 with the claimed token, counted once', async () => {
      await putStake(c.db, TABLE, STAKE_GENERAL, MIST_PER_SUI, 'active');
      const sent: string[] = [];
      let dropped = false;
      const lossy = new DynamoDBClient({ endpoint: moto.endpoint, region: REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 3 });
      // Runs per attempt, inside the SDK's retry loop: the first transaction reaches moto and commits, then
      // its response is "lost" with a connection reset, which the SDK retries.
      lossy.middlewareStack.add(
        (next) => async (args) => {
          const isTransaction = (args.input as { TransactItems?: unknown }).TransactItems !== undefined;
          if (isTransaction) sent.push('transaction');
          const result = await next(args);
          if (isTransaction && !dropped) {
            dropped = true;
            throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
          }
          return result;
        },
        { step: 'deserialize', name: 'loseTheFirstTransactionAnswer' },
      );
      const id = instances.general[0];
      const res = await handler(new NodeRegistry(lossy, TABLE))(joinEvent(id));
      expect(dropped).toBe(true);
      expect(sent).toEqual(['transaction', 'transaction']);
      const body = JSON.parse(res.body ?? '{}') as Record<string, string>;
      expect(res.statusCode).toBe(200);
      const tokenId = expectPooledToken(body.token);
      expect((await registry.getNode(id))?.bootstrap?.tokenId).toBe(tokenId);
      // The stake covers one node: the committed admission took it, the retry did not take a second.
      expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
      expect(await call(joinEvent(instances.general[1]))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    });

    it('no admission again once the stake was slashed or unstaked: an evicted node gets no fresh answer (stake_inactive)', async () => {
      const id = instances.general[0];
      expect((await call(joinEvent(id))).status).toBe(200);
      await putStake(c.db, TABLE, STAKE_GENERAL, 5n * MIST_PER_SUI, 'slashed');
      expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'stake_inactive' } });
    });
  });

  it('refuses an instance of an auto-scaling group that is not a worker group of this cluster (not_a_worker)', async () => {
    expect(await call(joinEvent(instances.foreign[0]))).toMatchObject({ status: 403, body: { error: 'not_a_worker' } });
  });

  it('refuses an instance id that does not exist (not_a_worker)', async () => {
    expect(await call(joinEvent('i-0123456789abcdef0'))).toMatchObject({ status: 403, body: { error: 'not_a_worker' } });
  });

  // Who runs is the worker group's answer (no EC2 DescribeInstances): moto does not run the group's EC2
  // health check, so each test sets the state that check or a scale-in leaves the instance in.
  it('refuses an instance its group reports unhealthy, as it does once EC2 stops or terminates it (instance_not_running)', async () => {
    const id = instances.general[1];
    await c.autoScaling.send(new SetInstanceHealthCommand({ InstanceId: id, HealthStatus: 'Unhealthy' }));
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'instance_not_running' } });
    expect(await registry.getNode(id)).toBeUndefined();
  });

  it('refuses an instance its group holds in Standby (instance_not_running)', async () => {
    const id = instances.general[1];
    await c.autoScaling.send(new EnterStandbyCommand({ AutoScalingGroupName: GENERAL, InstanceIds: [id], ShouldDecrementDesiredCapacity: true }));
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'instance_not_running' } });
  });

  it('refuses an instance its group has terminated and let go of (not_a_worker)', async () => {
    const id = instances.general[1];
    await c.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: true }));
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'not_a_worker' } });
  });

  it('refuses when the group stake was slashed (stake_inactive)', async () => {
    await putStake(c.db, TABLE, STAKE_GENERAL, 5n * MIST_PER_SUI, 'slashed');
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'stake_inactive' } });
  });

  it('refuses when the group stake is unbonding or missing from the index (stake_inactive)', async () => {
    await putStake(c.db, TABLE, STAKE_GENERAL, 5n * MIST_PER_SUI, 'unbonding');
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'stake_inactive' } });
    await deleteItem(KEYS.stake(STAKE_GENERAL));
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'stake_inactive' } });
  });

  it('the attack of issue 12 item 7: the indexer stopped before a slash landed; the stale index is refused (503 index_stale), no slot taken', async () => {
    // The index still shows the stake active, but it last covered the chain 301 s before the join.
    await markIndexed(NOW.getTime() - 301_000);
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 503, body: { error: 'index_stale' } });
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(0n);
    await markIndexed(NOW.getTime() - 300_000);
    expect((await call(joinEvent(instances.general[0]))).status).toBe(200);
  });

  it('refuses a stake of another role (stake_wrong_role)', async () => {
    await putStake(c.db, TABLE, STAKE_GENERAL, 50n * MIST_PER_SUI, 'active', 'user');
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'stake_wrong_role' } });
  });

  it('admits only as many nodes as the stake covers: amount ≥ (joined + 1) × node minimum (stake_insufficient)', async () => {
    await putStake(c.db, TABLE, STAKE_GENERAL, 2n * MIST_PER_SUI + MIST_PER_SUI / 2n, 'active');
    const [a, b, third] = instances.general;
    expect((await call(joinEvent(a))).status).toBe(200);
    expect((await call(joinEvent(b))).status).toBe(200);
    expect(await call(joinEvent(third))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    // Another group's stake is counted on its own.
    expect(await call(joinEvent(instances.gpu[0]))).toMatchObject({ status: 200 });
  });

  /** The pool minimum as the indexer records it from `staking::MinStakeChanged`. */
  async function indexMinStake(role: 'user' | 'node' | 'admin', amountMist: bigint) {
    const repo = new DynamoIndexRepository({ tableName: TABLE, client: c.db });
    const rev = (await repo.getMinStakes([role])).get(role)?.rev ?? 0;
    await repo.writeEntities([{ kind: 'minStake', record: { role, amountMist, lastEvent: { checkpoint: 9n, txOrdinal: 0, eventIndex: 0, txDigest: 'D' } }, expectedRev: rev }]);
  }

  it('a node minimum raised on chain shrinks the capacity: 5 SUI at a 2 SUI minimum covers 2 nodes (stake_insufficient)', async () => {
    await indexMinStake('node', 2n * MIST_PER_SUI);
    const [a, b, third] = instances.general;
    expect((await call(joinEvent(a))).status).toBe(200);
    expect((await call(joinEvent(b))).status).toBe(200);
    expect(await call(joinEvent(third))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    // 1 SUI no longer covers even one node.
    expect(await call(joinEvent(instances.gpu[0]))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
  });

  it('a node minimum lowered on chain widens the capacity: 1 SUI at a 0.5 SUI minimum admits a node below the default (2.5 SUI covers 3)', async () => {
    await putStake(c.db, TABLE, STAKE_GENERAL, 2n * MIST_PER_SUI + MIST_PER_SUI / 2n, 'active');
    await putStake(c.db, TABLE, STAKE_GPU, MIST_PER_SUI / 2n, 'active');
    expect(await call(joinEvent(instances.gpu[0]))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    await indexMinStake('node', MIST_PER_SUI / 2n);
    await mint();
    for (const id of instances.general) expect((await call(joinEvent(id))).status).toBe(200);
    expect((await call(joinEvent(instances.gpu[0]))).status).toBe(200);
  });

  it('only the node minimum sizes node capacity: changed user and admin minimums do not', async () => {
    await indexMinStake('user', 100n * MIST_PER_SUI);
    await indexMinStake('admin', 1n);
    await putStake(c.db, TABLE, STAKE_GPU, MIST_PER_SUI - 1n, 'active');
    expect(await call(joinEvent(instances.gpu[0]))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    expect((await call(joinEvent(instances.general[0]))).status).toBe(200);
  });

  it('refuses every join when the stake is below one node minimum (stake_insufficient)', async () => {
    await putStake(c.db, TABLE, STAKE_GPU, MIST_PER_SUI - 1n, 'active');
    expect(await call(joinEvent(instances.gpu[0]))).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
  });

  it('admits exactly one of two instances racing for the last slot: the slot is taken by the conditional write, not by an earlier read', async () => {
    // moto does not serialize concurrent transactions the way DynamoDB does, so a Promise.all race is
    // flaky there. Instead the second instance joins at the worst moment for the first: after all of
    // the first one's reads and checks, just before its admission transaction.
    await putStake(c.db, TABLE, STAKE_GENERAL, MIST_PER_SUI, 'active');
    const [first, second] = instances.general;
    let interleaved: Awaited<ReturnType<typeof call>> | undefined;
    const interleaving = {
      send: async (command: unknown) => {
        if (!interleaved && command instanceof TransactWriteItemsCommand) interleaved = await call(joinEvent(second));
        return c.db.send(command as never);
      },
    } as unknown as DynamoDBClient;
    const res = await handler(new NodeRegistry(interleaving, TABLE))(joinEvent(first));
    expect(interleaved).toMatchObject({ status: 200, body: { nodeName: second } });
    expect({ status: res.statusCode, body: JSON.parse(res.body ?? '{}') }).toMatchObject({ status: 403, body: { error: 'stake_insufficient' } });
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
    expect(await registry.getNode(first)).toBeUndefined();
  });

  it('refuses callers that are not a worker-role session of an EC2 instance (unknown_caller)', async () => {
    const id = instances.general[0];
    const cases = [
      joinEvent(id, { noAuthorizer: true }),
      joinEvent(id, { userArn: `arn:aws:iam::${ACCOUNT}:user/alice` }),
      joinEvent(id, { userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/k3s-daas-test-master/${id}` }),
      joinEvent(id, { userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${WORKER_ROLE}/alice` }),
      joinEvent(id, { userArn: `arn:aws:sts::999999999999:assumed-role/${WORKER_ROLE}/${id}` }),
      joinEvent(id, { userId: 'AROAEXAMPLE:i-0fffffffffffffff0' }),
    ];
    for (const event of cases) expect(await call(event)).toMatchObject({ status: 403, body: { error: 'unknown_caller' } });
    expect(await registry.getNode(id)).toBeUndefined();
  });

  it('fails closed when the request context lacks the API account, the caller account or the userId (unknown_caller)', async () => {
    const id = instances.general[0];
    const without = (mutate: (e: APIGatewayProxyEventV2WithIAMAuthorizer) => void) => {
      const event = joinEvent(id);
      mutate(event);
      return event;
    };
    const iam = (e: APIGatewayProxyEventV2WithIAMAuthorizer) => e.requestContext.authorizer.iam as unknown as Record<string, unknown>;
    const cases = [
      // A worker-role ARN of another account must not pass just because the API account is absent.
      without((e) => {
        delete (e.requestContext as Partial<typeof e.requestContext>).accountId;
        iam(e).userArn = `arn:aws:sts::999999999999:assumed-role/${WORKER_ROLE}/${id}`;
      }),
      without((e) => delete (e.requestContext as Partial<typeof e.requestContext>).accountId),
      without((e) => (iam(e).accountId = '999999999999')),
      without((e) => delete iam(e).accountId),
      without((e) => delete iam(e).userId),
    ];
    for (const event of cases) expect(await call(event)).toMatchObject({ status: 403, body: { error: 'unknown_caller' } });
    expect(await registry.getNode(id)).toBeUndefined();
  });

  it('refuses while the pool is empty or holds only entries sealed for another cluster (no_join_token)', async () => {
    await emptyPool();
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
    await mint({ contextCluster: 'another-cluster' });
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
    // A refused join does not burn the instance's one chance.
    await mint();
    expect((await call(joinEvent(instances.general[0]))).status).toBe(200);
  });

  it('never hands out a token for a CA other than the attested one, e.g. one the untrusted host minted for its own K3s (ca_not_attested)', async () => {
    await emptyPool();
    await mint({ caPem: await createClusterCaPem('k3s-server-ca@host') });
    const id = instances.general[0];
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'ca_not_attested' } });
    // Nor one whose hash is of the CA's DER rather than the PEM K3s serves.
    const der = createHash('sha256').update(new X509Certificate(attestedCaPem).raw).digest('hex');
    const { entry } = await mint();
    await registry.deleteBootstrapPoolEntry(entry.tokenId);
    await registry.putBootstrapPoolEntry({ ...entry, caSha256: der }, new Date());
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'ca_not_attested' } });
    expect(await registry.getNode(id)).toBeUndefined();
    // A refusal does not use up the instance's one join.
    await mint();
    const admitted = await call(joinEvent(id));
    expect(admitted.status).toBe(200);
    expectPooledToken(admitted.body.token);
  });

  it('attack: an attestation from an enclave booted with other settings than the platform\'s admits no worker (settings_mismatch)', async () => {
    platformSettings = new StaticPlatformSettings(testSettings({ apiUrl: 'https://attacker.example.net' }));
    try {
      const id = instances.general[0];
      expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'settings_mismatch' } });
      expect(await registry.getNode(id)).toBeUndefined();
    } finally {
      platformSettings = new StaticPlatformSettings(TEST_SETTINGS);
    }
  });

  it('refuses while no enclave attestation has been verified (no_attestation)', async () => {
    await deleteItem(KEYS.attestation());
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'no_attestation' } });
    expect(await registry.getNode(instances.general[0])).toBeUndefined();
  });

  it('answers malformed bodies with 4xx and a reason, before looking at anything else', async () => {
    const id = instances.general[0];
    expect(await call(joinEvent(id, { body: 'not json' }))).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect(await call(joinEvent(id, { body: '{"nodeName":"evil"}' }))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await call(joinEvent(id, { body: '[]' }))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await call(joinEvent(id, { body: 'x'.repeat(17 * 1024) }))).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 64 }), async (body) => {
        fc.pre(body !== '' && body.trim() !== '{}');
        const res = await handler()(joinEvent(id, { body }));
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 50 },
    );
    expect(await registry.getNode(id)).toBeUndefined();
  });
});
