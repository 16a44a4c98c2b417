// The deployed GET /v1/nodes/roster handler (the Lambda entry: environment validated at cold start, Secrets
// Manager and DynamoDB clients with the function's timeouts) against AWS endpoints that never answer: it
// answers 503 backend_unavailable (the reconciler then changes nothing), not a 500 or a Lambda timeout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { handler } from '../../../lambdas/node-roster/handler';
import { startHangingEndpoint, type HangingEndpoint } from '../../support/faulty-endpoints';
import { postEvent } from '../../support/token-fixtures';

const saved = { ...process.env };
let aws: HangingEndpoint;

beforeAll(async () => {
  aws = await startHangingEndpoint();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: aws.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    TABLE_NAME: 'index', WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook', INDEX_MAX_AGE_SECONDS: '300',
  });
});

afterAll(async () => {
  process.env = saved;
  await aws.stop();
});

describe('deployed node-roster handler', () => {
  it('a Secrets Manager that never answers is 503 backend_unavailable', async () => {
    const event = { ...postEvent('/v1/nodes/roster', ''), routeKey: 'GET /v1/nodes/roster', headers: { authorization: 'Bearer whatever-it-is-0123456789' } };
    const res = await handler(event);
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!)).toMatchObject({ error: 'backend_unavailable' });
    expect(aws.connections()).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('its settings are validated at cold start, naming every missing one', async () => {
    const { readEnv } = await import('../../../lambdas/shared/runtime/env');
    const { NODE_ROSTER_ENV } = await import('../../../lambdas/node-roster/handler');
    expect(() => readEnv(NODE_ROSTER_ENV, { TABLE_NAME: 'index' })).toThrow(/WEBHOOK_SECRET_ARN.*INDEX_MAX_AGE_SECONDS|INDEX_MAX_AGE_SECONDS.*WEBHOOK_SECRET_ARN/);
  });
});
