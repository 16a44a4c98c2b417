import { describe, expect, it } from '@jest/globals';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import fc from 'fast-check';
import { createCredential } from '../../../../lambdas/shared/credentials/credential';
import { IndexUnavailableError, type SealTokenRecord, type StakeRecord, type TokenIndexReader } from '../../../../lambdas/shared/index/index-model';
import { MemoryIndexRepository } from '../../../../lambdas/shared/index/index-repository-memory';
import { DEFAULT_MIN_STAKE_MIST, ROLES, type Role } from '../../../../lambdas/shared/sui/roles';
import { createTokenChecker, groupsFor, isBackendUnavailable, TOKEN_CHECK_REASONS } from '../../../../lambdas/shared/credentials/token-check';
import { IndexStaleError } from '../../../../lambdas/shared/index/freshness';
import { outageCode } from '../../../../lambdas/shared/runtime/outage';

const CLUSTER = 'dev-cluster';
const TOKEN = `0x${'11'.repeat(32)}`;
const STAKE = `0x${'22'.repeat(32)}`;
const NOW = new Date('2026-11-23T01:00:00Z');
const owner = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(1));
const stranger = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(2));
const position = { checkpoint: 1n, txOrdinal: 0, eventIndex: 0, txDigest: 'digest' };

function token(overrides: Partial<SealTokenRecord> = {}): SealTokenRecord {
  return {
    tokenId: TOKEN, stakeId: STAKE, owner: owner.toSuiAddress(), role: 'user', permissions: ['read'],
    clusterId: CLUSTER, expiresAtMs: NOW.getTime() + 86_400_000, revoked: false, invalidated: false, lastEvent: position,
    ...overrides,
  };
}

function stake(overrides: Partial<StakeRecord> = {}): StakeRecord {
  return { stakeId: STAKE, owner: owner.toSuiAddress(), role: 'user', amountMist: DEFAULT_MIN_STAKE_MIST.user, status: 'active', nodeId: '', lastEvent: position, ...overrides };
}

const FRESHNESS = { maxAgeMs: 300_000 };

/** An index holding `t` and `s`, that the indexer covered up to `coveredThroughMs` (default: now), with the owner an approved admin. */
async function indexWith(t?: SealTokenRecord, s?: StakeRecord, opts: { coveredThroughMs?: number | null; adminApproved?: boolean | null } = {}): Promise<MemoryIndexRepository> {
  const repo = new MemoryIndexRepository();
  const approved = opts.adminApproved === undefined ? true : opts.adminApproved;
  await repo.writeEntities([
    ...(t ? [{ kind: 'token' as const, record: t, expectedRev: 0 }] : []),
    ...(s ? [{ kind: 'stake' as const, record: s, expectedRev: 0 }] : []),
    ...(approved !== null ? [{ kind: 'admin' as const, record: { address: owner.toSuiAddress(), approved, lastEvent: position }, expectedRev: 0 }] : []),
  ]);
  const covered = opts.coveredThroughMs === undefined ? NOW.getTime() : opts.coveredThroughMs;
  await repo.putCursor({ cursor: 'c1', checkpoint: 1n, eventsSeen: 0, updatedAt: NOW.toISOString(), ...(covered !== null ? { coveredThroughMs: covered } : {}) }, undefined);
  return repo;
}

async function credential(opts: { signer?: Ed25519Keypair; tokenId?: string; lifetimeSeconds?: number; now?: Date } = {}) {
  return (await createCredential(opts.signer ?? owner, {
    tokenId: opts.tokenId ?? TOKEN, clusterId: CLUSTER, lifetimeSeconds: opts.lifetimeSeconds ?? 300, now: opts.now ?? NOW,
  })).credential;
}

function checker(index: TokenIndexReader, extra: { now?: () => Date; cacheSize?: number; minStakeMist?: Partial<Record<Role, bigint>> } = {}) {
  return createTokenChecker({ index, clusterId: CLUSTER, freshness: FRESHNESS, now: extra.now ?? (() => NOW), ...extra });
}

describe('token check: valid credential → identity', () => {
  it('answers username sui:<address>, uid = token id, role and permission groups, expiry = credential exp', async () => {
    const c = checker(await indexWith(token({ role: 'admin', permissions: ['read', 'write', 'node:write', 'admin'] }), stake({ role: 'admin', amountMist: DEFAULT_MIN_STAKE_MIST.admin })));
    expect(await c.check(await credential())).toEqual({
      ok: true,
      identity: {
        username: `sui:${owner.toSuiAddress()}`,
        uid: TOKEN,
        groups: ['k3s-daas:admin', 'k3s-daas:perm:read', 'k3s-daas:perm:write', 'k3s-daas:perm:node:write', 'k3s-daas:perm:admin'],
        address: owner.toSuiAddress(),
        tokenId: TOKEN,
        stakeId: STAKE,
        role: 'admin',
        expiresAt: '2026-11-23T01:05:00.000Z',
      },
    });
  });

  it('expiry is the token expiry when that comes first', async () => {
    const c = checker(await indexWith(token({ expiresAtMs: NOW.getTime() + 60_000 }), stake()));
    expect(await c.check(await credential())).toMatchObject({ ok: true, identity: { expiresAt: '2026-11-23T01:01:00.000Z' } });
  });
});

describe('token check: a reason code per index rule (DESIGN §4)', () => {
  // Every row has four cells: jest treats a parameter beyond the row's length as a `done` callback.
  const cases: [string, () => Promise<TokenIndexReader>, string, Parameters<typeof credential>[0]][] = [
    ['unknown_token: the token is not in the index', () => indexWith(undefined, stake()), 'unknown_token', {}],
    ['not_owner: sub does not own the token', () => indexWith(token(), stake()), 'not_owner', { signer: stranger }],
    ['wrong_audience: the token was issued for another cluster', () => indexWith(token({ clusterId: 'other' }), stake()), 'wrong_audience', {}],
    ['token_revoked: revoked on chain', () => indexWith(token({ revoked: true }), stake()), 'token_revoked', {}],
    ['token_revoked: invalidated by a slash/withdraw', () => indexWith(token({ invalidated: true }), stake()), 'token_revoked', {}],
    ['token_expired: past expires_at_ms', () => indexWith(token({ expiresAtMs: NOW.getTime() }), stake()), 'token_expired', {}],
    ['stake_inactive: stake missing', () => indexWith(token(), undefined), 'stake_inactive', {}],
    ['stake_inactive: unbonding', () => indexWith(token(), stake({ status: 'unbonding' })), 'stake_inactive', {}],
    ['stake_inactive: slashed', () => indexWith(token(), stake({ status: 'slashed' })), 'stake_inactive', {}],
    ['stake_inactive: withdrawn', () => indexWith(token(), stake({ status: 'withdrawn' })), 'stake_inactive', {}],
    ['stake_insufficient: below the user minimum', () => indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user - 1n })), 'stake_insufficient', {}],
    ['stake_insufficient: a node token needs the node minimum', () => indexWith(token({ role: 'node' }), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.node - 1n })), 'stake_insufficient', {}],
    ['stake_insufficient: an admin token needs the admin minimum', () => indexWith(token({ role: 'admin' }), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.node })), 'stake_insufficient', {}],
  ];
  it.each(cases)('%s', async (_name, index, reason, opts) => {
    expect(await checker(await index()).check(await credential(opts))).toEqual({ ok: false, reason });
  });

  it.each(ROLES)('stake exactly at the %s minimum is enough', async (role) => {
    const c = checker(await indexWith(token({ role }), stake({ role, amountMist: DEFAULT_MIN_STAKE_MIST[role] })));
    expect(await c.check(await credential())).toMatchObject({ ok: true, identity: { role } });
  });

  it('a fallback minimum given to the checker replaces the publish-time default', async () => {
    const index = await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user }));
    expect(await checker(index, { minStakeMist: { user: DEFAULT_MIN_STAKE_MIST.user + 1n } }).check(await credential())).toEqual({ ok: false, reason: 'stake_insufficient' });
  });

  async function withIndexedMinimum(index: MemoryIndexRepository, role: Role, amountMist: bigint): Promise<MemoryIndexRepository> {
    await index.writeEntities([{ kind: 'minStake', record: { role, amountMist, lastEvent: position }, expectedRev: 0 }]);
    return index;
  }

  it('a minimum raised on chain (indexed) makes a previously sufficient stake stake_insufficient', async () => {
    const index = await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user }));
    const c = checker(index, { cacheSize: 0 });
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    await withIndexedMinimum(index, 'user', DEFAULT_MIN_STAKE_MIST.user + 1n);
    expect(await c.check(await credential())).toEqual({ ok: false, reason: 'stake_insufficient' });
  });

  it('a minimum raised on chain takes effect for an already cached credential', async () => {
    const index = await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user }));
    const c = checker(index);
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true });
    await withIndexedMinimum(index, 'user', 2n * DEFAULT_MIN_STAKE_MIST.user);
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'stake_insufficient' });
    expect(c.stats().hits).toBe(1);
  });

  it('a minimum lowered on chain (indexed) admits a stake below the publish-time default', async () => {
    const index = await indexWith(token({ role: 'node' }), stake({ role: 'node', amountMist: DEFAULT_MIN_STAKE_MIST.node / 2n }));
    expect(await checker(index).check(await credential())).toEqual({ ok: false, reason: 'stake_insufficient' });
    await withIndexedMinimum(index, 'node', DEFAULT_MIN_STAKE_MIST.node / 2n);
    expect(await checker(index).check(await credential())).toMatchObject({ ok: true, identity: { role: 'node' } });
  });

  it('an indexed minimum of one role leaves the other roles at their defaults', async () => {
    const index = await withIndexedMinimum(await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user })), 'admin', 1n);
    expect(await checker(index).check(await credential())).toMatchObject({ ok: true });
    const lowUser = await withIndexedMinimum(await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user - 1n })), 'admin', 1n);
    expect(await checker(lowUser).check(await credential())).toEqual({ ok: false, reason: 'stake_insufficient' });
  });

  it('the indexed minimum wins over a fallback given to the checker', async () => {
    const index = await withIndexedMinimum(await indexWith(token(), stake({ amountMist: 5n })), 'user', 5n);
    expect(await checker(index, { minStakeMist: { user: 6n } }).check(await credential())).toMatchObject({ ok: true });
  });

  it('credential reasons come first and need no index read', async () => {
    let reads = 0;
    const index: TokenIndexReader = {
      getToken: async () => { reads++; return token(); },
      getStake: async () => { reads++; return stake(); },
      getMinStake: async () => { reads++; return undefined; },
      readItems: async () => { reads++; return {}; },
    };
    const c = checker(index);
    expect(await c.check('k3sdaas.v1.x.y')).toEqual({ ok: false, reason: 'malformed' });
    expect(await c.check(await credential({ now: new Date(NOW.getTime() - 3_600_000) }))).toEqual({ ok: false, reason: 'expired' });
    expect(reads).toBe(0);
  });

  it('lists every reason code of DESIGN §4 exactly once', () => {
    expect([...TOKEN_CHECK_REASONS].sort()).toEqual([
      'admin_not_approved', 'bad_signature', 'expired', 'lifetime_too_long', 'malformed', 'not_owner', 'not_yet_valid', 'stake_inactive',
      'stake_insufficient', 'token_expired', 'token_revoked', 'unknown_token', 'wrong_audience',
    ]);
  });
});

describe('token check: backend failures propagate distinctly (fail closed)', () => {
  it('IndexUnavailableError from the index reaches the caller', async () => {
    const down: TokenIndexReader = {
      getToken: async () => { throw new IndexUnavailableError('table unreachable'); },
      getStake: async () => { throw new IndexUnavailableError('table unreachable'); },
      getMinStake: async () => { throw new IndexUnavailableError('table unreachable'); },
      readItems: async () => { throw new IndexUnavailableError('table unreachable'); },
    };
    const error = await checker(down).check(await credential()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IndexUnavailableError);
    expect(isBackendUnavailable(error)).toBe(true);
    expect(isBackendUnavailable(new Error('bug'))).toBe(false);
  });
});

describe('token check: a stale index fails closed (issue 12 item 7)', () => {
  const adminToken = () => token({ role: 'admin', permissions: ['read', 'write', 'node:write', 'admin'] });
  const adminStake = () => stake({ role: 'admin', amountMist: DEFAULT_MIN_STAKE_MIST.admin });

  it('the attack: the indexer stopped before a revocation landed; the old index state is refused, not trusted', async () => {
    // The index still holds the token as valid, but the indexer last covered the chain 301 s ago.
    const index = await indexWith(token(), stake(), { coveredThroughMs: NOW.getTime() - 301_000 });
    const stale: IndexStaleError[] = [];
    const c = createTokenChecker({ index, clusterId: CLUSTER, now: () => NOW, freshness: { ...FRESHNESS, onStale: (e) => stale.push(e) } });
    const error = await c.check(await credential()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IndexStaleError);
    expect(isBackendUnavailable(error)).toBe(true);
    expect(outageCode(error)).toBe('index_stale');
    expect(stale.map((e) => e.ageMs)).toEqual([301_000]);
  });

  it('an index exactly at the bound still answers; one never covered by the indexer does not', async () => {
    const atBound = await indexWith(token(), stake(), { coveredThroughMs: NOW.getTime() - FRESHNESS.maxAgeMs });
    expect(await checker(atBound).check(await credential())).toMatchObject({ ok: true });
    const never = await indexWith(token(), stake(), { coveredThroughMs: null });
    const error = await checker(never).check(await credential()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IndexStaleError);
    expect((error as IndexStaleError).ageMs).toBeUndefined();
  });

  it('stale refuses every index answer, negative ones included, and credential reasons still come first', async () => {
    const index = await indexWith(undefined, undefined, { coveredThroughMs: 0 });
    await expect(checker(index).check(await credential())).rejects.toBeInstanceOf(IndexStaleError);
    expect(await checker(index).check('k3sdaas.v1.x.y')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('for any covered time the check refuses exactly when it is older than the bound', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 2 * FRESHNESS.maxAgeMs }), async (ageMs) => {
      const index = await indexWith(token(), stake(), { coveredThroughMs: NOW.getTime() - ageMs });
      const outcome = await checker(index).check(await credential()).catch((e: unknown) => e);
      if (ageMs > FRESHNESS.maxAgeMs) expect(outcome).toBeInstanceOf(IndexStaleError);
      else expect(outcome).toMatchObject({ ok: true });
    }), { numRuns: 25 });
  });

  it('costs no extra round trip: the freshness rides on the token read (two reads per accepted check, admin included)', async () => {
    for (const [t, s] of [[token(), stake()], [adminToken(), adminStake()]] as const) {
      const index = await indexWith(t, s);
      const c = checker(index, { cacheSize: 0 });
      expect(await c.check(await credential())).toMatchObject({ ok: true });
      expect(index.reads).toBe(2);
    }
    const unknown = await indexWith(undefined, stake());
    expect(await checker(unknown).check(await credential())).toEqual({ ok: false, reason: 'unknown_token' });
    expect(unknown.reads).toBe(1);
  });
});

describe('token check: admin tokens need a currently approved owner (issue 12 item 9)', () => {
  const adminToken = () => token({ role: 'admin', permissions: ['read', 'write', 'node:write', 'admin'] });
  const adminStake = () => stake({ role: 'admin', amountMist: DEFAULT_MIN_STAKE_MIST.admin });

  it('an admin the pool revoked is refused at once, cached credential or not', async () => {
    const index = await indexWith(adminToken(), adminStake());
    const c = checker(index);
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true, identity: { role: 'admin' } });
    await index.writeEntities([{ kind: 'admin', record: { address: owner.toSuiAddress(), approved: false, lastEvent: { ...position, checkpoint: 2n } }, expectedRev: 1 }]);
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'admin_not_approved' });
  });

  it('an admin token whose owner the index never saw approved is refused; user and node tokens do not need it', async () => {
    expect(await checker(await indexWith(adminToken(), adminStake(), { adminApproved: null })).check(await credential())).toEqual({ ok: false, reason: 'admin_not_approved' });
    expect(await checker(await indexWith(token(), stake(), { adminApproved: false })).check(await credential())).toMatchObject({ ok: true });
  });
});

describe('token check: per-container cache of verified credentials', () => {
  it('verifies a credential string once, then serves it from the cache', async () => {
    const c = checker(await indexWith(token(), stake()));
    const cred = await credential();
    await c.check(cred);
    await c.check(cred);
    await c.check(cred);
    expect(c.stats()).toEqual({ hits: 2, misses: 1, size: 1 });
  });

  it('still reads the index on a cache hit: revocation applies at once', async () => {
    const index = await indexWith(token(), stake());
    const c = checker(index);
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true });
    await index.writeEntities([{ kind: 'token', record: token({ revoked: true }), expectedRev: 1 }]);
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'token_revoked' });
  });

  it('a cached credential stops working after its exp and leaves the cache', async () => {
    let now = NOW;
    const c = checker(await indexWith(token(), stake()), { now: () => now });
    const cred = await credential({ lifetimeSeconds: 60 });
    expect(await c.check(cred)).toMatchObject({ ok: true });
    now = new Date(NOW.getTime() + 60_001);
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'expired' });
    expect(c.stats().size).toBe(0);
  });

  it('never caches a refusal that can later turn into an acceptance (not yet valid, token not yet indexed)', async () => {
    let now = new Date(NOW.getTime() - 61_000);
    const index = await indexWith(undefined, stake());
    const c = checker(index, { now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'not_yet_valid' });
    now = NOW;
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'unknown_token' });
    await index.writeEntities([{ kind: 'token', record: token(), expectedRev: 0 }]);
    expect(await c.check(cred)).toMatchObject({ ok: true, identity: { uid: TOKEN } });
    expect(c.stats()).toMatchObject({ misses: 2, hits: 1, size: 1 });
  });

  it('is bounded: the least recently used credential is dropped', async () => {
    const c = checker(await indexWith(token(), stake()), { cacheSize: 2 });
    const [a, b, d] = [await credential(), await credential(), await credential()];
    await c.check(a);
    await c.check(b);
    await c.check(a); // a is now more recent than b
    await c.check(d); // evicts b
    expect(c.stats()).toMatchObject({ size: 2, misses: 3, hits: 1 });
    await c.check(a);
    expect(c.stats()).toMatchObject({ hits: 2, misses: 3 });
    await c.check(b);
    expect(c.stats()).toMatchObject({ hits: 2, misses: 4, size: 2 });
  });

  it('caches only credentials whose signature verified; garbage never enters the cache', async () => {
    const c = checker(await indexWith(token(), stake()));
    await c.check(await credential({ signer: stranger }));
    expect(c.stats().size).toBe(1); // signature fine, index refused: signature cache only
    await c.check('k3sdaas.v1.bad.bad');
    expect(c.stats().size).toBe(1);
  });
});

describe('groups never leave the k3s-daas: namespace', () => {
  it('odd permissions are dropped, duplicates collapsed, system: never produced', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ROLES), fc.array(fc.oneof(fc.string(), fc.constantFrom('system:masters', 'read', 'a b', 'READ', ':x', 'node:write', '')), { maxLength: 12 }), (role, permissions) => {
        const groups = groupsFor(role, permissions);
        expect(groups[0]).toBe(`k3s-daas:${role}`);
        expect(new Set(groups).size).toBe(groups.length);
        for (const g of groups) {
          expect(g.startsWith('system:')).toBe(false);
          expect(g).toMatch(/^k3s-daas:(user|node|admin|perm:[a-z0-9](?:[a-z0-9:_-]*[a-z0-9])?)$/);
        }
      }),
      { numRuns: 300 },
    );
    expect(groupsFor('user', ['read', 'read', 'Read', 'x y', 'system:masters'])).toEqual(['k3s-daas:user', 'k3s-daas:perm:read', 'k3s-daas:perm:system:masters']);
  });
});
