// Every deployed handler (its cold-start wiring from the environment, its real AWS SDK clients with the
// shared timeouts) against AWS endpoints that accept connections and never answer: each route answers
// the contract's outage answer (503 `backend_unavailable`; 500 on the TokenReview route), and the
// indexer and node-lifecycle fail their invocation, all within the function's timeout. Without client
// timeouts each of these calls would hang until the test timeout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, EventBridgeEvent } from 'aws-lambda';
import { handler as authenticate } from '../../../lambdas/authenticate/handler';
import { handler as indexer } from '../../../lambdas/indexer/handler';
import { handler as issuer } from '../../../lambdas/issuer/handler';
import { handler as kubeconfig } from '../../../lambdas/kubeconfig/handler';
import { handler as nodeJoin } from '../../../lambdas/node-join/handler';
import { handler as nodeLifecycle } from '../../../lambdas/node-lifecycle/handler';
import { handler as validate } from '../../../lambdas/tokens-validate/handler';
import { IndexUnavailableError } from '../../../lambdas/shared/index/index-model';
import { FUNCTION_TIMEOUT_SECONDS, INDEXER_MIN_TIMEOUT_SECONDS } from '../../../lambdas/shared/runtime/aws-clients';
import type { HttpResult } from '../../../lambdas/shared/runtime/http';
import { startHangingEndpoint, type HangingEndpoint } from '../../support/faulty-endpoints';
import { CLUSTER_ID, credentialFor, postEvent } from '../../support/token-fixtures';

const ACCOUNT = '123456789012';
const WORKER_ROLE = 'k3s-daas-test-worker';
const GROUP = 'k3s-daas-test-workers-general';
const INSTANCE = 'i-0123456789abcdef0';
const saved = { ...process.env };
let aws: HangingEndpoint;

beforeAll(async () => {
  aws = await startHangingEndpoint();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: aws.endpoint,
    TABLE_NAME: 'index',
    CLUSTER_ID,
    SUI_NETWORK: 'testnet',
    SUI_GRPC_URL: aws.endpoint,
    SUI_PACKAGE_ID: '0x' + 'a'.repeat(64),
    WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook',
    EXPECTED_PCRS: 'none',
    KUBECONFIG_SIGNING_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/sign',
    SERVER_URL: 'https://k3s.example.com:6443',
    // The platform settings every attested-settings route computes (PLATFORM_SETTINGS_ENV).
    API_URL: 'https://abc123.execute-api.us-east-1.amazonaws.com',
    CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/state',
    JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/join',
    ATTESTATION_MAX_AGE_SECONDS: '900',
    INDEX_MAX_AGE_SECONDS: '300',
    JOIN_TOKEN_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/join',
    WORKER_ROLE_NAME: WORKER_ROLE,
    WORKER_GROUPS: JSON.stringify([{ autoScalingGroup: GROUP, stakeId: '0x' + 'c'.repeat(64) }]),
    LIFECYCLE_HOOK_NAME: 'k3s-daas-leave',
  });
});

afterAll(async () => {
  process.env = saved;
  await aws.stop();
});

/** Runs `call`, returning its outcome and how long it took. */
async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await call();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

const answer = (r: HttpResult | undefined) => r && { status: r.statusCode, error: JSON.parse(r.body ?? '{}').error ?? JSON.parse(r.body ?? '{}').status };

function joinEvent(): APIGatewayProxyEventV2WithIAMAuthorizer {
  return {
    body: '{}',
    isBase64Encoded: false,
    headers: {},
    requestContext: {
      accountId: ACCOUNT,
      authorizer: { iam: { accountId: ACCOUNT, userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${WORKER_ROLE}/${INSTANCE}`, userId: `AROAEXAMPLE:${INSTANCE}` } },
    },
  } as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;
}

const lifecycleEvent = {
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  detail: {
    LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
    AutoScalingGroupName: GROUP,
    LifecycleHookName: 'k3s-daas-leave',
    EC2InstanceId: INSTANCE,
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
  },
} as unknown as EventBridgeEvent<string, unknown>;

describe('deployed handlers against AWS endpoints that never answer', () => {
  it('every route answers its outage answer, the indexer and node-lifecycle fail, each within its function timeout', async () => {
    const credential = await credentialFor('user', { now: new Date() });
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: credential } });
    const auth = { authorization: 'Bearer whatever' };
    const context = { getRemainingTimeInMillis: () => INDEXER_MIN_TIMEOUT_SECONDS * 1000 };
    // Concurrently: each waits on its own timeouts, none on another's.
    const [iss, kc, val, tr, join, life, idx] = await Promise.all([
      timed(() => issuer(postEvent('/v1/issuer', ''))),
      timed(() => kubeconfig(postEvent('/v1/kubeconfig', JSON.stringify({ credential })))),
      timed(() => validate(postEvent('/v1/tokens/validate', JSON.stringify({ credential })))),
      timed(() => authenticate(postEvent('/v1/authenticate', review, auth))),
      timed(() => nodeJoin(joinEvent())),
      timed(() => nodeLifecycle(lifecycleEvent)),
      timed(() => indexer({}, context)),
    ]);

    expect({
      issuer: answer(iss.value), kubeconfig: answer(kc.value), validate: answer(val.value), authenticate: answer(tr.value), join: answer(join.value),
    }).toEqual({
      issuer: { status: 503, error: 'backend_unavailable' },
      kubeconfig: { status: 503, error: 'backend_unavailable' },
      validate: { status: 503, error: 'backend_unavailable' },
      // The webhook secret cannot be read: 500 so the apiserver retries (DESIGN §6).
      authenticate: { status: 500, error: 'webhook_secret_unavailable' },
      // DescribeInstances hangs.
      join: { status: 503, error: 'backend_unavailable' },
    });
    // Marking gone and claiming fail (ABANDON), then CompleteLifecycleAction fails: the invocation fails
    // and EventBridge/Lambda retry it, instead of Lambda killing it at the timeout.
    expect(life.error).toBeInstanceOf(Error);
    expect(idx.error).toBeInstanceOf(IndexUnavailableError);
    expect(aws.connections()).toBeGreaterThanOrEqual(7);

    // The contract's bound: within each function's timeout (the budget is half of it, see aws-clients.ts).
    const within = {
      issuer: iss.ms < FUNCTION_TIMEOUT_SECONDS.issuer * 1000,
      kubeconfig: kc.ms < FUNCTION_TIMEOUT_SECONDS.kubeconfig * 1000,
      validate: val.ms < FUNCTION_TIMEOUT_SECONDS['tokens-validate'] * 1000,
      authenticate: tr.ms < FUNCTION_TIMEOUT_SECONDS.authenticate * 1000,
      join: join.ms < FUNCTION_TIMEOUT_SECONDS['node-join'] * 1000,
      lifecycle: life.ms < FUNCTION_TIMEOUT_SECONDS['node-lifecycle'] * 1000,
      indexer: idx.ms < INDEXER_MIN_TIMEOUT_SECONDS * 1000,
    };
    expect(within).toEqual({ issuer: true, kubeconfig: true, validate: true, authenticate: true, join: true, lifecycle: true, indexer: true });
  }, 120_000);
});
