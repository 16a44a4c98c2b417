// One dependency down at a time, the others working (moto for DynamoDB, EC2 and Auto Scaling, a local
// KMS stand-in): every route answers 503 `backend_unavailable` (the TokenReview route 500) whether the
// dependency refuses connections or accepts them and never answers, within the function's timeout, and
// nothing is half-done (no node admitted, no record written). The SDK clients carry the production
// timeouts (`awsClientConfig`), only their endpoint is the test's.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithIAMAuthorizer, EventBridgeEvent } from 'aws-lambda';
import { createHandler as attestation } from '../../../lambdas/attestation/handler';
import { createHandler as authenticate } from '../../../lambdas/authenticate/handler';
import { createHandler as issuer } from '../../../lambdas/issuer/handler';
import { createHandler as kubeconfig } from '../../../lambdas/kubeconfig/handler';
import { createHandler as nodeJoin, type NodeJoinSettings } from '../../../lambdas/node-join/handler';
import { autoScalingCompleter, createHandler as nodeLifecycle } from '../../../lambdas/node-lifecycle/handler';
import { createHandler as validate } from '../../../lambdas/tokens-validate/handler';
import { BOOTSTRAP_TOKEN_TIMING, caPemSha256 } from '../../../lambdas/shared/nodes/join-token';
import { DynamoAttestationRecordStore, MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { createTokenChecker } from '../../../lambdas/shared/credentials/token-check';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { KmsKubeconfigSigner } from '../../../lambdas/shared/kubeconfig/kms-signing-key';
import { KmsJoinTokenCipher } from '../../../lambdas/shared/nodes/join-token';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { awsClientConfig, FUNCTION_TIMEOUT_SECONDS, type ApiFunctionName } from '../../../lambdas/shared/runtime/aws-clients';
import type { HttpResult } from '../../../lambdas/shared/runtime/http';
import { MIST_PER_SUI } from '../../../lambdas/shared/sui/roles';
import { attestationRecordFor, createClusterCaPem } from '../../support/cluster-ca';
import { refusingEndpoint, startHangingEndpoint, type HangingEndpoint } from '../../support/faulty-endpoints';
import { startFakeKms, type FakeKms } from '../../support/fake-kms';
import { startMoto, type Moto } from '../../support/moto';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { EnvPlatformSettings, StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { TEST_SETTINGS, testClaims } from '../../support/enclave-settings';
import { CLUSTER_ID, credentialFor, FIXED_NOW, postEvent, seededIndex, TEST_FRESHNESS } from '../../support/token-fixtures';
import { ACCOUNT, clients, createIndexTable, createWorkerGroup, putStake, REGION } from '../../support/worker-fixtures';

const TABLE = 'index';
const WORKER_ROLE = 'k3s-daas-test-worker';
const GROUP = 'k3s-daas-test-workers-general';
const STAKE = '0x' + '0'.repeat(63) + 'c';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let moto: Moto;
let kms: FakeKms;
let hanging: HangingEndpoint;
let refusing: string;
let workers: string[];
let caCertPem: string;

/** A client of `Client` for function `fn`: the production timeouts and retries, the test's endpoint. */
function client<C>(Client: new (config: object) => C, fn: ApiFunctionName, endpoint: string): C {
  return new Client({ ...awsClientConfig(fn), endpoint, region: REGION, credentials });
}

/** The platform settings as the functions compute them: the signing key's public key read from `kmsClient`. */
function platformSettings(kmsClient: KMSClient, signingKeyArn: string): EnvPlatformSettings {
  return new EnvPlatformSettings(
    {
      CLUSTER_ID,
      API_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
      CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/state',
      JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/join',
      KUBECONFIG_SIGNING_KEY_ARN: signingKeyArn,
      SERVER_URL: 'https://k3s.example.com:6443',
    },
    kmsClient,
  );
}

/** Both kinds of outage, by name. */
const outages = () => [['refusing connections', refusing], ['never answering', hanging.endpoint]] as const;

async function timed(call: () => Promise<HttpResult>) {
  const started = performance.now();
  const result = await call();
  return { ms: performance.now() - started, status: result.statusCode, body: JSON.parse(result.body ?? '{}') as Record<string, unknown> };
}

beforeAll(async () => {
  [moto, kms, hanging, refusing] = await Promise.all([startMoto(), startFakeKms(), startHangingEndpoint(), refusingEndpoint()]);
  // Setup through clients without the production timeouts: moto's first EC2 calls can be slow.
  const { db, ec2, autoScaling } = clients(moto.endpoint);
  await createIndexTable(db, TABLE);
  workers = await createWorkerGroup(ec2, autoScaling, GROUP, 2);
  await putStake(db, TABLE, STAKE, 10n * MIST_PER_SUI, 'active');
  // Whatever the bytes: KMS is the dependency that fails before they matter.
  caCertPem = await createClusterCaPem();
  // One pool entry for the attested CA: KMS (which opens its secret) is the dependency that fails before its bytes matter.
  const expiresAt = new Date(Date.now() + BOOTSTRAP_TOKEN_TIMING.ttlMs - 60_000).toISOString();
  await new NodeRegistry(db, TABLE).putBootstrapPoolEntry({ tokenId: 'abc123', expiresAt, caSha256: caPemSha256(caCertPem), ciphertext: Buffer.alloc(64, 7).toString('base64') }, new Date());
  await new DynamoAttestationRecordStore({ tableName: TABLE, client: db }).putLatest(attestationRecordFor(caCertPem, new Date()));
  // The indexer is current, so the index's freshness is not what refuses the join.
  await new DynamoIndexRepository({ tableName: TABLE, client: db }).putCursor({ cursor: 'c', checkpoint: 1n, eventsSeen: 0, updatedAt: new Date().toISOString(), coveredThroughMs: Date.now() }, undefined);
}, 120_000);

afterAll(async () => {
  await Promise.all([moto?.stop(), kms?.stop(), hanging?.stop()]);
});

describe('POST /v1/nodes/join with one AWS dependency down', () => {
  const settings: NodeJoinSettings = {
    TABLE_NAME: TABLE,
    CLUSTER_ID: 'k3s-daas-test',
    SERVER_URL: 'https://k3s.example.com:6443',
    JOIN_TOKEN_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/join',
    WORKER_ROLE_NAME: WORKER_ROLE,
    WORKER_GROUPS: [{ autoScalingGroup: GROUP, stakeId: STAKE }],
    INDEX_MAX_AGE_SECONDS: 300,
    API_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
    CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/state',
    JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/join',
    KUBECONFIG_SIGNING_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/sign',
  };
  const join = (instanceId: string): APIGatewayProxyEventV2WithIAMAuthorizer =>
    ({
      body: '{}',
      isBase64Encoded: false,
      headers: {},
      requestContext: {
        accountId: ACCOUNT,
        authorizer: { iam: { accountId: ACCOUNT, userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${WORKER_ROLE}/${instanceId}`, userId: `AROAEXAMPLE:${instanceId}` } },
      },
    }) as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;

  function handlerWith(down: 'autoScaling' | 'dynamodb' | 'kms', endpoint: string) {
    const at = (service: typeof down) => (service === down ? endpoint : moto.endpoint);
    const db = client(DynamoDBClient, 'node-join', at('dynamodb'));
    return nodeJoin({
      settings,
      autoScaling: client(AutoScalingClient, 'node-join', at('autoScaling')),
      registry: new NodeRegistry(db, TABLE),
      stakes: new DynamoIndexRepository({ tableName: TABLE, client: db }),
      cipher: new KmsJoinTokenCipher(client(KMSClient, 'node-join', at('kms')), settings.JOIN_TOKEN_KEY_ARN),
      attestations: new DynamoAttestationRecordStore({ tableName: TABLE, client: db }),
      // The settings' signing-key read goes to the same KMS: down with it.
      platformSettings: new EnvPlatformSettings(settings, client(KMSClient, 'node-join', at('kms'))),
    });
  }

  it.each(['autoScaling', 'dynamodb', 'kms'] as const)('%s down: 503 backend_unavailable within the timeout, no node admitted', async (down) => {
    for (const [how, endpoint] of outages()) {
      const answer = await timed(() => handlerWith(down, endpoint)(join(workers[0])));
      expect({ how, status: answer.status, error: answer.body.error }).toEqual({ how, status: 503, error: 'backend_unavailable' });
      expect(answer.ms).toBeLessThan(FUNCTION_TIMEOUT_SECONDS['node-join'] * 1000);
    }
    expect(await new NodeRegistry(clients(moto.endpoint).db, TABLE).getNode(workers[0])).toBeUndefined();
  }, 120_000);
});

describe('GET /v1/issuer with KMS or DynamoDB down', () => {
  it.each(['kms', 'dynamodb'] as const)('%s down: 503 backend_unavailable within the timeout', async (down) => {
    for (const [how, endpoint] of outages()) {
      const h = issuer({
        clusterId: CLUSTER_ID,
        signer: new KmsKubeconfigSigner(client(KMSClient, 'issuer', down === 'kms' ? endpoint : kms.endpoint), kms.keyArn),
        expectedPcrs: undefined,
        store: new DynamoAttestationRecordStore({ tableName: TABLE, client: client(DynamoDBClient, 'issuer', down === 'dynamodb' ? endpoint : moto.endpoint) }),
        settings: platformSettings(client(KMSClient, 'issuer', down === 'kms' ? endpoint : kms.endpoint), kms.keyArn),
      });
      const answer = await timed(() => h({} as APIGatewayProxyEventV2));
      expect({ how, status: answer.status, error: answer.body.error }).toEqual({ how, status: 503, error: 'backend_unavailable' });
      expect(answer.ms).toBeLessThan(FUNCTION_TIMEOUT_SECONDS.issuer * 1000);
    }
  }, 60_000);

  it('a KMS refusal that is no outage (an unknown key) stays 500 internal_error', async () => {
    const h = issuer({
      clusterId: CLUSTER_ID,
      signer: new KmsKubeconfigSigner(client(KMSClient, 'issuer', kms.endpoint), 'arn:aws:kms:us-east-1:111111111111:key/missing'),
      expectedPcrs: undefined,
      store: new MemoryAttestationRecordStore(),
      settings: platformSettings(client(KMSClient, 'issuer', kms.endpoint), 'arn:aws:kms:us-east-1:111111111111:key/missing'),
    });
    expect((await timed(() => h({} as APIGatewayProxyEventV2))).body.error).toBe('internal_error');
  });
});

describe('POST /v1/attestation with DynamoDB down', () => {
  it('a verified document that cannot be stored: 503 backend_unavailable within the timeout', async () => {
    const ca = await NitroTestCa.create();
    for (const [how, endpoint] of outages()) {
      const h = attestation({
        expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
        store: new DynamoAttestationRecordStore({ tableName: TABLE, client: client(DynamoDBClient, 'attestation', endpoint) }),
        now: () => ca.now,
        maxDocumentAgeMs: 300_000,
        rootPem: ca.rootPem,
        settings: new StaticPlatformSettings(TEST_SETTINGS),
      });
      const document = Buffer.from((await ca.document({ userData: testClaims(caCertPem) })).bytes).toString('base64');
      const answer = await timed(() => h(postEvent('/v1/attestation', JSON.stringify({ document, caCertPem }))));
      expect({ how, status: answer.status, error: answer.body.error }).toEqual({ how, status: 503, error: 'backend_unavailable' });
      expect(answer.ms).toBeLessThan(FUNCTION_TIMEOUT_SECONDS.attestation * 1000);
    }
  }, 60_000);
});

describe('credential routes with the index or KMS down', () => {
  const unreachableIndex = (endpoint: string, fn: ApiFunctionName) =>
    createTokenChecker({ index: new DynamoIndexRepository({ tableName: TABLE, client: client(DynamoDBClient, fn, endpoint) }), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW });

  it('POST /v1/tokens/validate and POST /v1/kubeconfig: 503 backend_unavailable; POST /v1/authenticate: 500', async () => {
    const credential = await credentialFor('user', { now: FIXED_NOW });
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: credential } });
    for (const [how, endpoint] of outages()) {
      const kc = kubeconfig({
        checkCredential: (c) => unreachableIndex(endpoint, 'kubeconfig').check(c),
        store: new MemoryAttestationRecordStore(attestationRecordFor(caCertPem, FIXED_NOW)),
        signer: new KmsKubeconfigSigner(client(KMSClient, 'kubeconfig', kms.endpoint), kms.keyArn),
        settings: new StaticPlatformSettings(TEST_SETTINGS),
        clusterId: CLUSTER_ID,
        serverUrl: 'https://k3s.example.com:6443',
        maxAttestationAgeMs: 900_000,
        now: () => FIXED_NOW,
      });
      const answers = {
        validate: await timed(() => validate({ checker: unreachableIndex(endpoint, 'tokens-validate') })(postEvent('/v1/tokens/validate', JSON.stringify({ credential })))),
        kubeconfig: await timed(() => kc(postEvent('/v1/kubeconfig', JSON.stringify({ credential })))),
        authenticate: await timed(() =>
          authenticate({ checker: unreachableIndex(endpoint, 'authenticate'), webhookSecret: async () => 'hook' })(postEvent('/v1/authenticate', review, { authorization: 'Bearer hook' }))),
      };
      expect({ how, validate: answers.validate.body.error, kubeconfig: answers.kubeconfig.body.error, authenticate: answers.authenticate.body.status }).toEqual({
        how, validate: 'backend_unavailable', kubeconfig: 'backend_unavailable', authenticate: { authenticated: false, error: expect.any(String) },
      });
      expect([answers.validate.status, answers.kubeconfig.status, answers.authenticate.status]).toEqual([503, 503, 500]);
      for (const a of Object.values(answers)) expect(a.ms).toBeLessThan(FUNCTION_TIMEOUT_SECONDS.kubeconfig * 1000);
    }
  }, 60_000);

  it('POST /v1/kubeconfig with KMS down (the credential and attestation fine): 503 backend_unavailable', async () => {
    const credential = await credentialFor('user', { now: FIXED_NOW });
    const checker = createTokenChecker({ index: await seededIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW });
    for (const [how, endpoint] of outages()) {
      const kc = kubeconfig({
        checkCredential: (c) => checker.check(c),
        store: new MemoryAttestationRecordStore(attestationRecordFor(caCertPem, FIXED_NOW)),
        signer: new KmsKubeconfigSigner(client(KMSClient, 'kubeconfig', endpoint), kms.keyArn),
        // The settings' signing-key read goes to the same KMS: down with it.
        settings: platformSettings(client(KMSClient, 'kubeconfig', endpoint), kms.keyArn),
        clusterId: CLUSTER_ID,
        serverUrl: 'https://k3s.example.com:6443',
        maxAttestationAgeMs: 900_000,
        now: () => FIXED_NOW,
      });
      const answer = await timed(() => kc(postEvent('/v1/kubeconfig', JSON.stringify({ credential }))));
      expect({ how, status: answer.status, body: answer.body }).toEqual({ how, status: 503, body: { error: 'backend_unavailable', message: expect.any(String) } });
      expect(answer.ms).toBeLessThan(FUNCTION_TIMEOUT_SECONDS.kubeconfig * 1000);
    }
  }, 60_000);
});

describe('node-lifecycle with Auto Scaling down', () => {
  it('marks the node gone, fails the invocation within its timeout and gives the claim back for the retry', async () => {
    const registry = new NodeRegistry(clients(moto.endpoint).db, TABLE);
    const token = '12345678-1234-1234-1234-123456789012';
    const event = {
      'detail-type': 'EC2 Instance-terminate Lifecycle Action',
      detail: { LifecycleActionToken: token, AutoScalingGroupName: GROUP, LifecycleHookName: 'hook', EC2InstanceId: workers[1], LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
    } as unknown as EventBridgeEvent<string, unknown>;
    const h = nodeLifecycle({
      settings: { TABLE_NAME: TABLE, CLUSTER_ID: 'k3s-daas-test', WORKER_GROUPS: [{ autoScalingGroup: GROUP, stakeId: STAKE }], LIFECYCLE_HOOK_NAME: 'hook' },
      registry,
      complete: autoScalingCompleter(client(AutoScalingClient, 'node-lifecycle', hanging.endpoint)),
    });
    const started = performance.now();
    await expect(h(event)).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(FUNCTION_TIMEOUT_SECONDS['node-lifecycle'] * 1000);
    expect((await registry.getNode(workers[1]))?.status).toBe('gone');
    // The claim was released: the retried event can claim and complete the action.
    expect(await registry.claimLifecycleAction(token, workers[1], new Date())).toBe(true);
  }, 60_000);
});
