// The real authenticate handler (cold-start wiring from the environment) against moto: tokens written
// through the indexer's DynamoDB repository, the webhook secret in Secrets Manager, AWS_ENDPOINT_URL
// pointing every SDK client at the emulator.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { handler } from '../../../lambdas/authenticate/handler';
import { IndexUnavailableError } from '../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { createTokenChecker } from '../../../lambdas/shared/credentials/token-check';
import { createIndexTable, emulatorClient } from '../../support/index-table';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { CLUSTER_ID, credentialFor, OWNER, postEvent, stakeRecord, tokenIdOf, tokenRecord } from '../../support/token-fixtures';

const TABLE = 'k3s-daas-index';
const SECRET = 'moto-webhook-secret-0123456789';
const saved = { ...process.env };
let moto: Moto;
let repo: DynamoIndexRepository;

const review = (token: string) => JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
const auth = { authorization: `Bearer ${SECRET}` };
// Credentials signed now (the handler checks against the real clock).
const fresh = (role: 'user' | 'node' | 'admin') => credentialFor(role, { now: new Date() });

beforeAll(async () => {
  moto = await startMoto();
  const db = emulatorClient(moto.endpoint);
  await createIndexTable(db, TABLE);
  repo = new DynamoIndexRepository({ tableName: TABLE, client: db });
  const far = Date.now() + 86_400_000;
  await repo.writeEntities([
    { kind: 'token', record: tokenRecord('user', { expiresAtMs: far }), expectedRev: 0 },
    { kind: 'stake', record: stakeRecord('user'), expectedRev: 0 },
    { kind: 'token', record: tokenRecord('admin', { expiresAtMs: far, revoked: true }), expectedRev: 0 },
    { kind: 'stake', record: stakeRecord('admin'), expectedRev: 0 },
  ]);
  // As an indexer run leaves it: the chain covered up to now.
  await repo.putCursor({ cursor: 'c0', checkpoint: 1n, eventsSeen: 0, updatedAt: new Date().toISOString(), coveredThroughMs: Date.now() }, undefined);
  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1' });
  const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'webhook', SecretString: SECRET }));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    TABLE_NAME: TABLE,
    CLUSTER_ID,
    SUI_NETWORK: 'testnet',
    WEBHOOK_SECRET_ARN: ARN,
    INDEX_MAX_AGE_SECONDS: '300',
    // This suite changes the index between calls on the real clock: no per-container reuse, so each call
    // sees the change at once (the caches and their bounds are tested with an injected clock in
    // token-check-dynamodb.test.ts).
    TOKEN_DECISION_TTL_SECONDS: '0',
    INDEX_VIEW_TTL_SECONDS: '0',
  });
});

afterAll(async () => {
  process.env = saved;
  await moto?.stop();
});

describeWithMoto('authenticate handler against DynamoDB (moto) with tokens written by the indexer repository', () => {
  it('authenticates a token the repository wrote', async () => {
    const result = await handler(postEvent('/v1/authenticate', review(await fresh('user')), auth));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body!).status).toMatchObject({
      authenticated: true,
      user: { username: `sui:${OWNER.toSuiAddress()}`, uid: tokenIdOf('user'), groups: ['k3s-daas:user', 'k3s-daas:perm:read'] },
    });
  });

  it('refuses a revoked token and an unknown one (200 authenticated:false)', async () => {
    for (const credential of [await fresh('admin'), await fresh('node')]) {
      const result = await handler(postEvent('/v1/authenticate', review(credential), auth));
      expect({ status: result.statusCode, body: JSON.parse(result.body!).status }).toEqual({ status: 200, body: { authenticated: false } });
    }
  });

  it('revocation written after a successful check applies to the same cached credential', async () => {
    const credential = await fresh('user');
    expect(JSON.parse((await handler(postEvent('/v1/authenticate', review(credential), auth))).body!).status.authenticated).toBe(true);
    const current = await repo.getTokens([tokenIdOf('user')]);
    const { record, rev } = current.get(tokenIdOf('user'))!;
    await repo.writeEntities([{ kind: 'token', record: { ...record, revoked: true }, expectedRev: rev }]);
    expect(JSON.parse((await handler(postEvent('/v1/authenticate', review(credential), auth))).body!).status.authenticated).toBe(false);
  });

  it('reads the webhook secret from Secrets Manager: a wrong bearer is 401', async () => {
    const result = await handler(postEvent('/v1/authenticate', review(await fresh('user')), { authorization: 'Bearer nope' }));
    expect(result.statusCode).toBe(401);
  });

  it('a stale index (the indexer stopped 10 minutes ago) → 500 so the apiserver retries; fresh again → a verdict', async () => {
    const current = await repo.getCursor();
    const stale = { ...current!, cursor: 'c-stale', coveredThroughMs: Date.now() - 600_000 };
    await repo.putCursor(stale, current);
    const refused = await handler(postEvent('/v1/authenticate', review(await fresh('user')), auth));
    expect(refused.statusCode).toBe(500);
    expect(JSON.parse(refused.body!).status).toEqual({ authenticated: false, error: 'the token index is stale; retry' });
    await repo.putCursor({ ...stale, cursor: 'c-fresh', coveredThroughMs: Date.now() }, stale);
    // (The user token was revoked by an earlier test: the fresh index answers with that verdict.)
    const answered = await handler(postEvent('/v1/authenticate', review(await fresh('user')), auth));
    expect({ status: answered.statusCode, body: JSON.parse(answered.body!).status }).toEqual({ status: 200, body: { authenticated: false } });
  });

  it('an unreachable table surfaces as IndexUnavailableError (→ 500 in the handler)', async () => {
    const checker = createTokenChecker({
      index: new DynamoIndexRepository({ tableName: TABLE, client: emulatorClient('http://127.0.0.1:9') }),
      clusterId: CLUSTER_ID,
      freshness: { maxAgeMs: 300_000 },
    });
    await expect(checker.check(await fresh('user'))).rejects.toBeInstanceOf(IndexUnavailableError);
  });
});
