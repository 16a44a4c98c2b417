import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { IndexUnavailableError, type TokenIndexReader } from '../../../lambdas/shared/index/index-model';
import { MemoryIndexRepository } from '../../../lambdas/shared/index/index-repository-memory';
import { createTokenChecker, TOKEN_CHECK_REASONS } from '../../../lambdas/shared/credentials/token-check';
import { createHandler } from '../../../lambdas/tokens-validate/handler';
import { CLUSTER_ID, credentialFor, FIXED_NOW, markIndexed, OWNER, postEvent, seededIndex, stakeRecord, TEST_FRESHNESS, tokenIdOf, tokenRecord } from '../../support/token-fixtures';

async function handlerWith(index?: TokenIndexReader) {
  return createHandler({ checker: createTokenChecker({ index: index ?? (await seededIndex()), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW }) });
}

const validate = (credential: unknown) => postEvent('/v1/tokens/validate', JSON.stringify({ credential }));
const parse = (result: { body?: string }) => JSON.parse(result.body ?? 'null');

describe('POST /v1/tokens/validate (DESIGN §4)', () => {
  it('200 {valid: true, identity} with exactly the contract fields', async () => {
    const result = await (await handlerWith())(validate(await credentialFor('admin')));
    expect(result.statusCode).toBe(200);
    expect(parse(result)).toEqual({
      valid: true,
      identity: {
        username: `sui:${OWNER.toSuiAddress()}`,
        uid: tokenIdOf('admin'),
        groups: ['k3s-daas:admin', 'k3s-daas:perm:read', 'k3s-daas:perm:write', 'k3s-daas:perm:node:write', 'k3s-daas:perm:admin'],
        address: OWNER.toSuiAddress(),
        tokenId: tokenIdOf('admin'),
        role: 'admin',
        expiresAt: '2026-11-23T01:10:00.000Z',
      },
    });
  });

  it.each([
    ['malformed', async () => 'k3sdaas.v1.nope'],
    ['expired', async () => credentialFor('user', { now: new Date(FIXED_NOW.getTime() - 3_600_000) })],
    ['not_yet_valid', async () => credentialFor('user', { now: new Date(FIXED_NOW.getTime() + 3_600_000) })],
    ['malformed', async () => `${await credentialFor('user')}${'A'.repeat(9000)}`], // over the credential length cap, within 16 KiB
  ])('401 {valid: false, reason: %s}', async (reason, make) => {
    const result = await (await handlerWith())(validate(await make()));
    expect(result.statusCode).toBe(401);
    expect(parse(result)).toEqual({ valid: false, reason });
  });

  it.each([
    ['token_revoked', { revoked: true }],
    ['token_expired', { expiresAtMs: FIXED_NOW.getTime() - 1 }],
  ] as const)('401 {valid: false, reason: %s} from the index', async (reason, overrides) => {
    const index = new MemoryIndexRepository();
    await index.writeEntities([
      { kind: 'token', record: tokenRecord('user', overrides), expectedRev: 0 },
      { kind: 'stake', record: stakeRecord('user'), expectedRev: 0 },
    ]);
    await markIndexed(index);
    const result = await (await handlerWith(index))(validate(await credentialFor('user')));
    expect({ status: result.statusCode, body: parse(result) }).toEqual({ status: 401, body: { valid: false, reason } });
  });

  it('503 index_stale when the indexer last covered the chain longer ago than the bound (fail closed)', async () => {
    const index = await seededIndex();
    await markIndexed(index, FIXED_NOW.getTime() - TEST_FRESHNESS.maxAgeMs - 1);
    const result = await (await handlerWith(index))(validate(await credentialFor('user')));
    expect({ status: result.statusCode, body: parse(result) }).toEqual({
      status: 503, body: { error: 'index_stale', message: expect.stringContaining('behind the chain') },
    });
  });

  it('503 backend_unavailable when the index cannot be reached (fail closed)', async () => {
    const down: TokenIndexReader = {
      getToken: async () => { throw new IndexUnavailableError('timeout'); },
      getStake: async () => { throw new IndexUnavailableError('timeout'); },
      getMinStake: async () => { throw new IndexUnavailableError('timeout'); },
      readItems: async () => { throw new IndexUnavailableError('timeout'); },
      readTokenForCheck: async () => { throw new IndexUnavailableError('timeout'); },
      readIndexView: async () => { throw new IndexUnavailableError('timeout'); },
    };
    const result = await (await handlerWith(down))(validate(await credentialFor('user')));
    expect(result.statusCode).toBe(503);
    expect(parse(result)).toMatchObject({ error: 'backend_unavailable' });
  });

  it.each([
    ['invalid JSON', '{', 400, 'invalid_json'],
    ['missing credential', '{}', 400, 'invalid_request'],
    ['credential not a string', '{"credential": 5}', 400, 'invalid_request'],
    ['unknown field', '{"credential": "x", "token": "y"}', 400, 'invalid_request'],
    ['oversize body', JSON.stringify({ credential: 'x'.repeat(20_000) }), 413, 'payload_too_large'],
  ])('%s → %i %s, never a stack trace', async (_name, body, status, code) => {
    const result = await (await handlerWith())(postEvent('/v1/tokens/validate', body));
    expect(result.statusCode).toBe(status);
    expect(parse(result)).toMatchObject({ error: code, message: expect.any(String) });
    expect(result.body).not.toMatch(/\n\s+at /);
  });

  it('any string is answered 401 with a reason code of DESIGN §4 (or 400 when empty), never 5xx', async () => {
    const handler = await handlerWith();
    const valid = await credentialFor('user');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.nat({ max: valid.length - 1 }).map((i) => valid.slice(0, i) + valid.slice(i + 1))), async (credential) => {
        const result = await handler(validate(credential));
        if (credential === '') return expect(result.statusCode).toBe(400);
        expect(result.statusCode).toBe(401);
        const body = parse(result);
        expect(TOKEN_CHECK_REASONS).toContain(body.reason);
        expect(result.body).not.toContain('system:');
      }),
      { numRuns: 200 },
    );
  });
});
