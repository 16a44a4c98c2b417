// POST /v1/nodes/join against moto (EC2 instances launched by real moto ASGs, the index table in moto's
// DynamoDB) with a local KMS stand-in: one test per admission rule, plus the malformed-request paths.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DeleteItemCommand, GetItemCommand, QueryCommand, TransactWriteItemsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
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
import { joinTokenEncryptionContext } from '../../../lambdas/shared/nodes/join-token';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { MIST_PER_SUI } from '../../../lambdas/shared/sui/roles';
import { createClusterCaPem } from '../../support/cluster-ca';
import { startMoto, type Moto } from '../../support/moto';
import { ACCOUNT, clients, createIndexTable, createWorkerGroup, FakeKmsCipher, putStake } from '../../support/worker-fixtures';

const TABLE = 'index';
const CLUSTER = 'k3s-daas-test';
const WORKER_ROLE = 'k3s-daas-test-worker';
const GENERAL = 'k3s-daas-test-workers-general';
const GPU = 'k3s-daas-test-workers-gpu';
const FOREIGN = 'someone-elses-asg';
const STAKE_GENERAL = '0x' + '0'.repeat(63) + 'c';
const STAKE_GPU = '0x' + '0'.repeat(63) + 'd';
const SECRET = `node:${'s3cret'.repeat(6)}`;
/** The join token pinning the attested CA; set in beforeAll from a real CA certificate. */
let TOKEN: string;
let attestedCaPem: string;
const SERVER = 'https://k3s.example.com:6443';

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

function handler(admissions: NodeRegistry = registry) {
  return createHandler({
    settings,
    ec2: c.ec2,
    autoScaling: c.autoScaling,
    registry: admissions,
    stakes: new DynamoIndexRepository({ tableName: TABLE, client: c.db }),
    cipher,
    attestations: new DynamoAttestationRecordStore({ tableName: TABLE, client: c.db }),
    platformSettings,
    now: () => new Date('2026-11-23T00:00:00Z'),
  });
}

async function publishToken(token = TOKEN, context = joinTokenEncryptionContext(CLUSTER)) {
  await registry.putJoinToken(await cipher.encrypt(token, context), new Date());
}

async function deleteItem(key: { pk: string; sk: string }) {
  await c.db.send(new DeleteItemCommand({ TableName: TABLE, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
}

async function call(event: APIGatewayProxyEventV2WithIAMAuthorizer) {
  const res = await handler()(event);
  return { status: res.statusCode, body: JSON.parse(res.body ?? '{}') as Record<string, string> };
}

/** K3s's token hash is over the CA PEM it serves; the attestation record keeps the CA as canonical PEM. */
const pinning = (caPem: string) => `K10${createHash('sha256').update(caPem).digest('hex')}::${SECRET}`;

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
  TOKEN = pinning(attestedCaPem);
  moto = await startMoto();
}, 60_000);
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
  await publishToken();
  await attest(attestedCaPem);
});

describe('POST /v1/nodes/join', () => {
  it('admits a running instance of a worker group with the server, the CA-pinning token and its instance id as node name', async () => {
    const id = instances.general[0];
    expect(await call(joinEvent(id))).toEqual({ status: 200, body: { server: SERVER, token: TOKEN, nodeName: id } });

    const { Item } = await c.db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: KEYS.node(id).pk }, sk: { S: KEYS.node(id).sk } } }));
    expect(Item).toMatchObject({ status: { S: 'joined' }, stakeId: { S: STAKE_GENERAL }, autoScalingGroup: { S: GENERAL }, gsi2pk: { S: `STAKE#${STAKE_GENERAL}` } });
    // The indexer evicts a slashed stake's nodes by reading them through GSI2.
    const byStake = await c.db.send(
      new QueryCommand({ TableName: TABLE, IndexName: TABLE_INDEXES.byStake, KeyConditionExpression: 'gsi2pk = :p', ExpressionAttributeValues: { ':p': { S: `STAKE#${STAKE_GENERAL}` } } }),
    );
    expect(byStake.Items?.map((i) => i.instanceId?.S)).toEqual([id]);
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
  });

  it('refuses a second join of the same instance (already_joined) without taking another slot', async () => {
    const id = instances.general[0];
    expect((await call(joinEvent(id))).status).toBe(200);
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'already_joined' } });
    expect(await registry.joinedCount(STAKE_GENERAL)).toBe(1n);
  });

  it('refuses an instance of an auto-scaling group that is not a worker group of this cluster (not_a_worker)', async () => {
    expect(await call(joinEvent(instances.foreign[0]))).toMatchObject({ status: 403, body: { error: 'not_a_worker' } });
  });

  it('refuses an instance id that does not exist (not_a_worker)', async () => {
    expect(await call(joinEvent('i-0123456789abcdef0'))).toMatchObject({ status: 403, body: { error: 'not_a_worker' } });
  });

  it('refuses a terminated instance (instance_not_running)', async () => {
    const id = instances.general[1];
    await c.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'instance_not_running' } });
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

  it('refuses while no join token is published, or one sealed for another cluster (no_join_token)', async () => {
    await deleteItem(KEYS.joinToken());
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
    await publishToken(TOKEN, joinTokenEncryptionContext('another-cluster'));
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
    // A refused join does not burn the instance's one chance.
    await publishToken();
    expect((await call(joinEvent(instances.general[0]))).status).toBe(200);
  });

  it('never hands out a token pinning a CA other than the attested one, e.g. one the untrusted host published (ca_not_attested)', async () => {
    const hostCa = await createClusterCaPem('k3s-server-ca@host');
    await publishToken(pinning(hostCa));
    const id = instances.general[0];
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'ca_not_attested' } });
    // Nor a token whose hash is of the CA's DER rather than the PEM K3s serves.
    await publishToken(`K10${createHash('sha256').update(new X509Certificate(attestedCaPem).raw).digest('hex')}::${SECRET}`);
    expect(await call(joinEvent(id))).toMatchObject({ status: 403, body: { error: 'ca_not_attested' } });
    // A refusal does not use up the instance's one join.
    await publishToken();
    expect(await call(joinEvent(id))).toMatchObject({ status: 200, body: { token: TOKEN } });
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

  it('never hands out a token without the CA hash (no_join_token)', async () => {
    await publishToken('K10::node:secret');
    expect(await call(joinEvent(instances.general[0]))).toMatchObject({ status: 403, body: { error: 'no_join_token' } });
  });

  it('answers malformed bodies with 4xx and a reason, before looking at anything else', async () => {
    const id = instances.general[0];
    expect(await call(joinEvent(id, { body: 'not json' }))).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect(await call(joinEvent(id, { body: '{"nodeName":"evil"}' }))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await call(joinEvent(id, { body: '[]' }))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await call(joinEvent(id, { body: 'x'.repeat(17 * 1024) }))).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 64 }), async (body) => {
        fc.pre(body.trim() !== '{}');
        const res = await handler()(joinEvent(id, { body }));
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 50 },
    );
    expect(await registry.getNode(id)).toBeUndefined();
  });
});
