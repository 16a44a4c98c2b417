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
import { INDEX_VIEW_TTL_SECONDS, TOKEN_DECISION_TTL_SECONDS } from '../../../../lambdas/shared/credentials/revocation-bound';

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

/** `t` as the indexer writes it: with the copy of its stake `s` and its owner's approval (event-applier.ts). */
function backed(t: SealTokenRecord, s: StakeRecord | undefined, adminApproved: boolean): SealTokenRecord {
  if (t.backing) return t;
  return {
    ...t,
    backing: { ...(s ? { stake: { status: s.status, amountMist: s.status === 'active' ? s.amountMist : 0n } } : {}), adminApproved: t.role === 'admin' && adminApproved },
  };
}

/**
 * An index holding `t` and `s`, that the indexer covered up to `coveredThroughMs` (default: now), with the
 * owner an approved admin. The token carries its `backing` copy unless `legacy` (an item written before
 * copies existed, which the checker completes with a second read).
 */
async function indexWith(t?: SealTokenRecord, s?: StakeRecord, opts: { coveredThroughMs?: number | null; adminApproved?: boolean | null; legacy?: boolean } = {}): Promise<MemoryIndexRepository> {
  const repo = new MemoryIndexRepository();
  const approved = opts.adminApproved === undefined ? true : opts.adminApproved;
  await repo.writeEntities([
    ...(t ? [{ kind: 'token' as const, record: opts.legacy ? t : backed(t, s, approved === true), expectedRev: 0 }] : []),
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

const VIEW_TTL_MS = INDEX_VIEW_TTL_SECONDS * 1000;
const DECISION_TTL_MS = TOKEN_DECISION_TTL_SECONDS * 1000;
const later = (ms: number) => new Date(NOW.getTime() + ms);

function checker(index: TokenIndexReader, extra: { now?: () => Date; cacheSize?: number; minStakeMist?: Partial<Record<Role, bigint>>; decisionTtlMs?: number } = {}) {
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

  // Token items written before the backing copy existed: the same verdicts from a second read of the stake.
  const legacyCases = cases.filter(([name]) => name.startsWith('stake_')).map(([name, , reason, opts]) => [name, reason, opts] as const);
  it.each(legacyCases)('legacy token item (no backing copy): %s', async (name, reason, opts) => {
    const s = name.includes('missing') ? undefined
      : stake({
        ...(name.includes('unbonding') ? { status: 'unbonding' } : name.includes('slashed') ? { status: 'slashed' } : name.includes('withdrawn') ? { status: 'withdrawn' } : {}),
        ...(name.includes('user minimum') ? { amountMist: DEFAULT_MIN_STAKE_MIST.user - 1n } : name.includes('node') ? { amountMist: DEFAULT_MIN_STAKE_MIST.node - 1n } : name.includes('admin') ? { amountMist: DEFAULT_MIN_STAKE_MIST.node } : {}),
      });
    const role: Role = name.includes('node token') ? 'node' : name.includes('admin token') ? 'admin' : 'user';
    const index = await indexWith(token({ role }), s, { legacy: true });
    const c = checker(index, { cacheSize: 0 });
    expect(await c.check(await credential(opts))).toEqual({ ok: false, reason });
    expect(c.stats()).toMatchObject({ legacyReads: 1, tokenReads: 1 });
  });

  it('legacy token item: an accepted check reads the stake (and an admin\'s approval) a second time', async () => {
    for (const [t, s] of [[token(), stake()], [token({ role: 'admin' }), stake({ role: 'admin', amountMist: DEFAULT_MIN_STAKE_MIST.admin })]] as const) {
      const index = await indexWith(t, s, { legacy: true });
      const c = checker(index, { cacheSize: 0 });
      expect(await c.check(await credential())).toMatchObject({ ok: true });
      expect(index.reads).toBe(3); // the view, the token, then stake (+ approval) in one BatchGetItem
    }
    const revoked = await indexWith(token({ role: 'admin' }), stake({ role: 'admin', amountMist: DEFAULT_MIN_STAKE_MIST.admin }), { legacy: true, adminApproved: false });
    expect(await checker(revoked).check(await credential())).toEqual({ ok: false, reason: 'admin_not_approved' });
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

  it('a minimum raised on chain (indexed) makes a previously sufficient stake stake_insufficient within the view TTL', async () => {
    const index = await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user }));
    let now = NOW;
    const c = checker(index, { cacheSize: 0, now: () => now });
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    await withIndexedMinimum(index, 'user', DEFAULT_MIN_STAKE_MIST.user + 1n);
    // The container's view still holds the old minimum until it is VIEW_TTL_MS old (the documented bound)…
    now = later(VIEW_TTL_MS - 1);
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    // …and reads it again then.
    now = later(VIEW_TTL_MS);
    expect(await c.check(await credential())).toEqual({ ok: false, reason: 'stake_insufficient' });
    expect(c.stats().viewReads).toBe(2);
  });

  it('a minimum raised on chain takes effect for an already cached credential', async () => {
    const index = await indexWith(token(), stake({ amountMist: DEFAULT_MIN_STAKE_MIST.user }));
    let now = NOW;
    const c = checker(index, { now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true });
    await withIndexedMinimum(index, 'user', 2n * DEFAULT_MIN_STAKE_MIST.user);
    now = later(Math.max(VIEW_TTL_MS, DECISION_TTL_MS));
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
      readTokenForCheck: async () => { reads++; return token(); },
      readIndexView: async () => { reads++; return { freshness: {}, minStakeMist: {} }; },
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
      readTokenForCheck: async () => { throw new IndexUnavailableError('table unreachable'); },
      readIndexView: async () => { throw new IndexUnavailableError('table unreachable'); },
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

  it('costs no round trip of its own: judged on the view, read once per view TTL beside the token read', async () => {
    for (const [t, s] of [[token(), stake()], [adminToken(), adminStake()]] as const) {
      const index = await indexWith(t, s);
      let now = NOW;
      const c = checker(index, { cacheSize: 0, now: () => now });
      expect(await c.check(await credential())).toMatchObject({ ok: true });
      expect(index.reads).toBe(2); // the view and the token, sent together
      for (let i = 1; i <= 5; i++) {
        now = later(i * 1000);
        expect(await c.check(await credential())).toMatchObject({ ok: true });
      }
      expect(index.reads).toBe(2 + 5); // one token read per uncached check, the view held
      expect(c.stats()).toMatchObject({ viewReads: 1, tokenReads: 6, legacyReads: 0 });
    }
  });

  it('is judged at the view\'s read time: a view read fresh serves its TTL, then a stale one refuses (bound maxAge + view TTL)', async () => {
    // Covered exactly at the bound when the view is read: accepted, and the view is held.
    const index = await indexWith(token(), stake(), { coveredThroughMs: NOW.getTime() - FRESHNESS.maxAgeMs });
    let now = NOW;
    const c = checker(index, { cacheSize: 0, now: () => now });
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    now = later(VIEW_TTL_MS - 1);
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    // Read again: the indexer has not moved, so the index is now past the bound.
    now = later(VIEW_TTL_MS);
    await expect(c.check(await credential())).rejects.toBeInstanceOf(IndexStaleError);
  });

  it('a stale view is not kept: the first check after the indexer recovers is answered', async () => {
    const index = await indexWith(token(), stake(), { coveredThroughMs: NOW.getTime() - 301_000 });
    const c = checker(index, { cacheSize: 0 });
    await expect(c.check(await credential())).rejects.toBeInstanceOf(IndexStaleError);
    await expect(c.check(await credential())).rejects.toBeInstanceOf(IndexStaleError);
    await index.putCursor({ cursor: 'c2', checkpoint: 2n, eventsSeen: 1, updatedAt: NOW.toISOString(), coveredThroughMs: NOW.getTime() }, await index.getCursor());
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    expect(c.stats().viewReads).toBe(3);
  });
});

describe('token check: the index view is shared by the container (issue 16)', () => {
  it('concurrent checks share one view read in flight (single-flight)', async () => {
    const index = await indexWith(token(), stake());
    const c = checker(index, { cacheSize: 0 });
    const creds = await Promise.all(Array.from({ length: 8 }, () => credential()));
    const results = await Promise.all(creds.map((cred) => c.check(cred)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(c.stats()).toMatchObject({ viewReads: 1, tokenReads: 8 });
    expect(index.reads).toBe(9);
  });

  it('a failed view read fails every check waiting on it, is not kept, and the next check reads again', async () => {
    const index = await indexWith(token(), stake());
    let failures = 1;
    const flaky: TokenIndexReader = Object.assign(Object.create(index) as MemoryIndexRepository, {
      readIndexView: async () => {
        if (failures-- > 0) throw new IndexUnavailableError('throttled');
        return index.readIndexView();
      },
    });
    const c = checker(flaky, { cacheSize: 0 });
    const creds = [await credential(), await credential()];
    const [a, b] = await Promise.all(creds.map((cred) => c.check(cred).catch((e: unknown) => e)));
    expect(a).toBeInstanceOf(IndexUnavailableError);
    expect(b).toBeInstanceOf(IndexUnavailableError);
    expect(await c.check(await credential())).toMatchObject({ ok: true });
    expect(c.stats().viewReads).toBe(2);
  });

  it('an index outage is never kept as a decision: the next check asks again', async () => {
    const index = await indexWith(token(), stake());
    let down = true;
    const flaky: TokenIndexReader = Object.assign(Object.create(index) as MemoryIndexRepository, {
      readTokenForCheck: async (id: string) => {
        if (down) throw new IndexUnavailableError('timeout');
        return index.readTokenForCheck(id);
      },
    });
    const c = checker(flaky);
    const cred = await credential();
    await expect(c.check(cred)).rejects.toBeInstanceOf(IndexUnavailableError);
    down = false;
    expect(await c.check(cred)).toMatchObject({ ok: true });
  });
});

describe('token check: admin tokens need a currently approved owner (issue 12 item 9)', () => {
  const adminToken = () => token({ role: 'admin', permissions: ['read', 'write', 'node:write', 'admin'] });
  const adminStake = () => stake({ role: 'admin', amountMist: DEFAULT_MIN_STAKE_MIST.admin });

  it('an admin the pool revoked is refused once the indexer rewrote the token: at once uncached, after the decision TTL cached', async () => {
    const index = await indexWith(adminToken(), adminStake());
    let now = NOW;
    const c = checker(index, { now: () => now });
    const uncached = checker(index, { cacheSize: 0, now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true, identity: { role: 'admin' } });
    // What the indexer writes for AdminRevoked: the approval and the owner's admin tokens.
    await index.writeEntities([
      { kind: 'admin', record: { address: owner.toSuiAddress(), approved: false, lastEvent: { ...position, checkpoint: 2n } }, expectedRev: 1 },
      { kind: 'token', record: backed(adminToken(), adminStake(), false), expectedRev: 1 },
    ]);
    expect(await uncached.check(cred)).toEqual({ ok: false, reason: 'admin_not_approved' });
    now = later(DECISION_TTL_MS - 1);
    expect(await c.check(cred)).toMatchObject({ ok: true });
    now = later(DECISION_TTL_MS);
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
    expect(c.stats()).toMatchObject({ hits: 2, misses: 1, size: 1 });
  });

  it('a hot check (same credential within the decision TTL) sends no request; after it, exactly one', async () => {
    const index = await indexWith(token(), stake());
    let now = NOW;
    const c = checker(index, { now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true });
    expect(index.reads).toBe(2); // first check of the container: the view beside the token
    now = later(DECISION_TTL_MS - 1);
    expect(await c.check(cred)).toMatchObject({ ok: true });
    expect(index.reads).toBe(2);
    now = later(DECISION_TTL_MS);
    expect(await c.check(cred)).toMatchObject({ ok: true });
    expect(index.reads).toBe(3); // the token only: the view is still held
    expect(c.stats()).toMatchObject({ decisionHits: 1, viewReads: 1, tokenReads: 2 });
  });

  it('a hot decision never outlives the token: its expiry is checked on every hit', async () => {
    const index = await indexWith(token({ expiresAtMs: NOW.getTime() + 1000 }), stake());
    let now = NOW;
    const c = checker(index, { now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true });
    now = later(1000);
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'token_expired' });
  });

  it('a revocation applies at once to an uncached credential and within the decision TTL to a cached one', async () => {
    const index = await indexWith(token(), stake());
    let now = NOW;
    const c = checker(index, { now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toMatchObject({ ok: true });
    await index.writeEntities([{ kind: 'token', record: backed(token({ revoked: true }), stake(), true), expectedRev: 1 }]);
    expect(await checker(index, { cacheSize: 0, now: () => now }).check(cred)).toEqual({ ok: false, reason: 'token_revoked' });
    now = later(DECISION_TTL_MS);
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'token_revoked' });
  });

  it('a decision TTL of 0 reads the token on every check', async () => {
    const index = await indexWith(token(), stake());
    const c = checker(index, { decisionTtlMs: 0 });
    const cred = await credential();
    for (let i = 0; i < 3; i++) expect(await c.check(cred)).toMatchObject({ ok: true });
    expect(c.stats()).toMatchObject({ decisionHits: 0, tokenReads: 3, viewReads: 1 });
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

  it('keeps a refusal that can later turn into an acceptance no longer than an acceptance (not yet valid: never; token not yet indexed: the decision TTL)', async () => {
    let now = new Date(NOW.getTime() - 61_000);
    const index = await indexWith(undefined, stake());
    const c = checker(index, { now: () => now });
    const cred = await credential();
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'not_yet_valid' });
    now = NOW;
    expect(await c.check(cred)).toEqual({ ok: false, reason: 'unknown_token' });
    await index.writeEntities([{ kind: 'token', record: backed(token(), stake(), true), expectedRev: 0 }]);
    now = later(DECISION_TTL_MS);
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
