import { describe, expect, it } from '@jest/globals';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import fc from 'fast-check';
import { createHandler, TOKEN_REVIEW_VERSIONS } from '../../../lambdas/authenticate/handler';
import { bearerMatches, cachedSecret, WebhookSecretUnavailableError } from '../../../lambdas/shared/runtime/webhook-secret';
import { SignatureVerifierUnavailableError } from '../../../lambdas/shared/credentials/credential';
import { IndexUnavailableError, type TokenIndexReader } from '../../../lambdas/shared/index/index-model';
import { MemoryIndexRepository } from '../../../lambdas/shared/index/index-repository-memory';
import { createTokenChecker } from '../../../lambdas/shared/credentials/token-check';
import { CLUSTER_ID, credentialFor, FIXED_NOW, markIndexed, OWNER, postEvent, seededIndex, stakeIdOf, TEST_FRESHNESS, tokenIdOf, tokenRecord, stakeRecord } from '../../support/token-fixtures';

const SECRET = 'w3bh00k-s3cret-0123456789abcdefghijklmnopqrstuv';
const AUTH = { authorization: `Bearer ${SECRET}` };

async function handlerWith(index?: TokenIndexReader, webhookSecret: () => Promise<string> = async () => SECRET) {
  const checker = createTokenChecker({ index: index ?? (await seededIndex()), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW });
  return createHandler({ checker, webhookSecret });
}

const review = (token: string, apiVersion: string = 'authentication.k8s.io/v1') =>
  JSON.stringify({ apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: { token, audiences: ['https://kubernetes.default.svc'] }, status: {} });

function parse(result: { body?: string }) {
  return JSON.parse(result.body ?? 'null');
}

describe('POST /v1/authenticate: TokenReview answers (DESIGN §6)', () => {
  it.each(TOKEN_REVIEW_VERSIONS)('%s: a valid credential is authenticated as sui:<address> with k3s-daas groups and extra', async (apiVersion) => {
    const handler = await handlerWith();
    const result = await handler(postEvent('/v1/authenticate', review(await credentialFor('node'), apiVersion), AUTH));
    expect(result.statusCode).toBe(200);
    expect(parse(result)).toEqual({
      apiVersion,
      kind: 'TokenReview',
      status: {
        authenticated: true,
        user: {
          username: `sui:${OWNER.toSuiAddress()}`,
          uid: tokenIdOf('node'),
          groups: ['k3s-daas:node', 'k3s-daas:perm:read', 'k3s-daas:perm:node:write'],
          extra: { 'k3s-daas.io/token-id': [tokenIdOf('node')], 'k3s-daas.io/stake-id': [stakeIdOf('node')] },
        },
      },
    });
  });

  it('accepts a base64-encoded body as API Gateway may deliver it', async () => {
    const handler = await handlerWith();
    const body = Buffer.from(review(await credentialFor('user'))).toString('base64');
    const result = await handler(postEvent('/v1/authenticate', body, AUTH, true));
    expect(parse(result).status.authenticated).toBe(true);
  });

  it.each([
    ['a forged signature', async () => credentialFor('user', { signer: Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(9)) })],
    ['an expired credential', async () => credentialFor('user', { now: new Date(FIXED_NOW.getTime() - 3_600_000) })],
    ['garbage', async () => 'not-a-credential'],
  ])('invalid credential (%s) → 200 authenticated:false with no detail leaked', async (_name, make) => {
    const handler = await handlerWith();
    const result = await handler(postEvent('/v1/authenticate', review(await make(), 'authentication.k8s.io/v1beta1'), AUTH));
    expect(result.statusCode).toBe(200);
    expect(parse(result)).toEqual({ apiVersion: 'authentication.k8s.io/v1beta1', kind: 'TokenReview', status: { authenticated: false } });
  });

  it('a revoked token → 200 authenticated:false', async () => {
    const index = new MemoryIndexRepository();
    await index.writeEntities([
      { kind: 'token', record: tokenRecord('user', { revoked: true }), expectedRev: 0 },
      { kind: 'stake', record: stakeRecord('user'), expectedRev: 0 },
    ]);
    await markIndexed(index);
    const result = await (await handlerWith(index))(postEvent('/v1/authenticate', review(await credentialFor('user')), AUTH));
    expect(parse(result)).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: { authenticated: false } });
  });

  it.each([
    ['index unreachable', new IndexUnavailableError('dynamodb timeout')],
    ['zkLogin node unreachable', new SignatureVerifierUnavailableError('grpc down')],
  ])('%s → 500 with status.error so the apiserver retries and does not cache', async (_name, failure) => {
    const down: TokenIndexReader = {
      getToken: async () => { throw failure; }, getStake: async () => { throw failure; }, getMinStake: async () => { throw failure; }, readItems: async () => { throw failure; },
      readTokenForCheck: async () => { throw failure; }, readIndexView: async () => { throw failure; },
    };
    const result = await (await handlerWith(down))(postEvent('/v1/authenticate', review(await credentialFor('user')), AUTH));
    expect(result.statusCode).toBe(500);
    const body = parse(result);
    expect(body).toMatchObject({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: { authenticated: false } });
    expect(typeof body.status.error).toBe('string');
    expect(result.body).not.toMatch(/dynamodb|grpc|at .*\.ts/);
  });

  it('a stale index (issue 12 item 7) → 500 with status.error naming it, so the apiserver retries and does not cache', async () => {
    const index = await seededIndex();
    await markIndexed(index, FIXED_NOW.getTime() - 3_600_000);
    const result = await (await handlerWith(index))(postEvent('/v1/authenticate', review(await credentialFor('user')), AUTH));
    expect(result.statusCode).toBe(500);
    expect(parse(result).status).toEqual({ authenticated: false, error: 'the token index is stale; retry' });
  });
});

describe('POST /v1/authenticate: the webhook bearer secret', () => {
  it.each([
    ['missing header', {}],
    ['wrong secret', { authorization: 'Bearer wrong' }],
    ['secret with a suffix', { authorization: `Bearer ${SECRET}x` }],
    ['secret prefix', { authorization: `Bearer ${SECRET.slice(0, -1)}` }],
    ['basic scheme', { authorization: `Basic ${SECRET}` }],
    ['bare secret', { authorization: SECRET }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ])('%s → 401 without looking at the body', async (_name, headers) => {
    let checks = 0;
    const handler = createHandler({ checker: { check: async () => { checks++; throw new Error('must not be called'); } }, webhookSecret: async () => SECRET });
    const result = await handler(postEvent('/v1/authenticate', review(await credentialFor('user')), headers as Record<string, string>));
    expect(result.statusCode).toBe(401);
    expect(parse(result)).toMatchObject({ error: 'unauthorized' });
    expect(checks).toBe(0);
  });

  it('an unreadable secret → 500 (fail closed), never an open door', async () => {
    const handler = await handlerWith(undefined, async () => { throw new WebhookSecretUnavailableError('no access'); });
    const result = await handler(postEvent('/v1/authenticate', review(await credentialFor('user')), AUTH));
    expect(result.statusCode).toBe(500);
    expect(parse(result)).toMatchObject({ error: 'webhook_secret_unavailable' });
  });

  it('bearerMatches: exact secret only, scheme case-insensitive, an empty secret matches nothing', () => {
    expect(bearerMatches(`Bearer ${SECRET}`, SECRET)).toBe(true);
    expect(bearerMatches(`bearer ${SECRET}`, SECRET)).toBe(true);
    expect(bearerMatches(`Bearer ${SECRET}`, `${SECRET}!`)).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
    expect(bearerMatches(undefined, '')).toBe(false);
    fc.assert(fc.property(fc.string(), (presented) => {
      fc.pre(presented !== SECRET);
      expect(bearerMatches(`Bearer ${presented}`, SECRET)).toBe(false);
    }));
  });

  it('cachedSecret: one read per TTL, shared by concurrent callers, a failed read is retried', async () => {
    let now = 0;
    let reads = 0;
    let fail = true;
    const get = cachedSecret(async () => { reads++; if (fail) throw new WebhookSecretUnavailableError('x'); return `s${reads}`; }, { ttlMs: 1000, now: () => now });
    await expect(get()).rejects.toBeInstanceOf(WebhookSecretUnavailableError);
    fail = false;
    expect(await Promise.all([get(), get()])).toEqual(['s2', 's2']);
    now = 999;
    expect(await get()).toBe('s2');
    now = 1000;
    expect(await get()).toBe('s3');
    expect(reads).toBe(3);
  });
});

describe('POST /v1/authenticate: bad requests get a 4xx with a reason, never a stack trace', () => {
  it.each([
    ['invalid JSON', '{"apiVersion":', 400, 'invalid_json'],
    ['wrong kind', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SubjectAccessReview', spec: { token: 'x' } }), 400, 'invalid_request'],
    ['unknown apiVersion', JSON.stringify({ apiVersion: 'authentication.k8s.io/v2', kind: 'TokenReview', spec: { token: 'x' } }), 400, 'invalid_request'],
    ['missing token', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: {} }), 400, 'invalid_request'],
    ['oversize body', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'x'.repeat(17 * 1024) } }), 413, 'payload_too_large'],
  ])('%s → %i %s', async (_name, body, status, code) => {
    const result = await (await handlerWith())(postEvent('/v1/authenticate', body, AUTH));
    expect(result.statusCode).toBe(status);
    expect(parse(result)).toMatchObject({ error: code, message: expect.any(String) });
    expect(result.body).not.toMatch(/\n\s+at /);
  });

  it('an empty spec.token is a well-formed review of a bad credential: 200 authenticated:false, not 400', async () => {
    const handler = await handlerWith();
    const result = await handler(postEvent('/v1/authenticate', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: '' } }), AUTH));
    expect(result.statusCode).toBe(200);
    expect(parse(result)).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: { authenticated: false } });
  });

  it('an unexpected failure → 500 internal_error without its message', async () => {
    const handler = createHandler({ checker: { check: async () => { throw new Error('secret detail'); } }, webhookSecret: async () => SECRET });
    const result = await handler(postEvent('/v1/authenticate', review('x'), AUTH));
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('secret detail');
  });
});

describe('POST /v1/authenticate: system: never appears in an answer', () => {
  it('whatever the token string and whatever permissions the index holds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('system:masters', 'system:nodes', ':system:x', 'read')), { maxLength: 6 }),
        fc.oneof(fc.string({ maxLength: 200 }), fc.constant('valid')),
        async (permissions, token) => {
          const index = new MemoryIndexRepository();
          await index.writeEntities([
            { kind: 'token', record: tokenRecord('user', { permissions }), expectedRev: 0 },
            { kind: 'stake', record: stakeRecord('user'), expectedRev: 0 },
          ]);
          await markIndexed(index);
          const presented = token === 'valid' ? await credentialFor('user') : token;
          const result = await (await handlerWith(index))(postEvent('/v1/authenticate', review(presented), AUTH));
          expect([200, 400]).toContain(result.statusCode);
          const body = parse(result);
          if (token === 'valid') expect(body.status.authenticated).toBe(true);
          const user = body.status?.user;
          if (user) {
            expect(user.username.startsWith('system:')).toBe(false);
            for (const group of user.groups) expect(group.startsWith('system:')).toBe(false);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
