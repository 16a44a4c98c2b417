// The token path's round trips (issue 16 item 2), through the real SDK against moto: the index written by
// the event applier as the indexer writes it, the checker reading it through DynamoIndexRepository, and
// every request counted with SDK middleware. 1 request per uncached check (a consistent GetItem of the
// token), 0 per hot check, the index view read at most once per view TTL; and every refusal the
// semantics demand, each within its documented bound (injected clock).
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { applyEventsToIndex, type PositionedEvent } from '../../../../lambdas/shared/index/event-applier';
import { IndexUnavailableError, type EventPosition } from '../../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../../lambdas/shared/index/index-repository-dynamodb';
import { countRequests, type RequestCounter } from '../../../../lambdas/shared/index/request-counter';
import { createTokenChecker, type TokenChecker } from '../../../../lambdas/shared/credentials/token-check';
import { IndexStaleError } from '../../../../lambdas/shared/index/freshness';
import { INDEX_VIEW_TTL_SECONDS, TOKEN_DECISION_TTL_SECONDS } from '../../../../lambdas/shared/credentials/revocation-bound';
import type { DecodedEvent } from '../../../../lambdas/shared/sui/events';
import { DEFAULT_MIN_STAKE_MIST, ROLES, TIER_PERMISSIONS, type Role } from '../../../../lambdas/shared/sui/roles';
import { createIndexTable, emulatorClient } from '../../../support/index-table';
import { describeWithMoto, startMoto, type Moto } from '../../../support/moto';
import { CLUSTER_ID, credentialFor, FIXED_NOW, OWNER, stakeIdOf, tokenIdOf } from '../../../support/token-fixtures';

const VIEW_TTL_MS = INDEX_VIEW_TTL_SECONDS * 1000;
const DECISION_TTL_MS = TOKEN_DECISION_TTL_SECONDS * 1000;
const MAX_AGE_MS = 300_000;
let moto: Moto;
let table = 0;
let writer: DynamoIndexRepository;
let counter: RequestCounter;
let checker: TokenChecker;
let nowMs: number;
let checkpoint = 0;

const pos = (): EventPosition => ({ checkpoint: BigInt(++checkpoint), txOrdinal: 0, eventIndex: 0, txDigest: `D${checkpoint}` });
const at = (offsetMs: number) => { nowMs = FIXED_NOW.getTime() + offsetMs; };

async function index(...events: DecodedEvent[]): Promise<void> {
  await applyEventsToIndex(writer, events.map((event): PositionedEvent => ({ event, position: pos() })));
}

async function cover(coveredThroughMs: number): Promise<void> {
  const previous = await writer.getCursor();
  await writer.putCursor({ cursor: `c${coveredThroughMs}-${checkpoint}`, checkpoint: BigInt(checkpoint), eventsSeen: 0, updatedAt: FIXED_NOW.toISOString(), coveredThroughMs }, previous);
}

const deposit = (role: Role, amount = DEFAULT_MIN_STAKE_MIST[role]) => ({
  name: 'staking::StakeDeposited', data: { stake_id: stakeIdOf(role), owner: OWNER.toSuiAddress(), role: ROLES.indexOf(role), amount: String(amount), node_id: '' },
}) as DecodedEvent;
const issue = (role: Role) => ({
  name: 'seal_token::SealTokenIssued', data: {
    token_id: tokenIdOf(role), stake_id: stakeIdOf(role), owner: OWNER.toSuiAddress(), role: ROLES.indexOf(role),
    permissions: [...TIER_PERMISSIONS[role]], cluster_id: CLUSTER_ID, expires_at_ms: String(FIXED_NOW.getTime() + 86_400_000),
  },
}) as DecodedEvent;
const approve = (name: 'staking::AdminApproved' | 'staking::AdminRevoked') => ({ name, data: { admin: OWNER.toSuiAddress() } }) as DecodedEvent;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

beforeEach(async () => {
  if (!moto.endpoint) return;
  const tableName = `token-path-${++table}`;
  await createIndexTable(emulatorClient(moto.endpoint), tableName);
  writer = new DynamoIndexRepository({ tableName, client: emulatorClient(moto.endpoint) });
  // Every role's token as the indexer leaves it after the chain's deposit, approval and issue events.
  await index(approve('staking::AdminApproved'), ...ROLES.map((r) => deposit(r)), ...ROLES.map(issue));
  await cover(FIXED_NOW.getTime());
  const client = emulatorClient(moto.endpoint);
  counter = countRequests(client);
  at(0);
  checker = createTokenChecker({
    index: new DynamoIndexRepository({ tableName, client }), clusterId: CLUSTER_ID, freshness: { maxAgeMs: MAX_AGE_MS }, now: () => new Date(nowMs),
  });
});

describeWithMoto('token path round trips through the SDK (moto)', () => {
  it('an uncached check is exactly one GetItem once the view is held; the view is one BatchGetItem per view TTL', async () => {
    const credentials = await Promise.all(Array.from({ length: 6 }, () => credentialFor('user')));
    expect(await checker.check(credentials[0]!)).toMatchObject({ ok: true });
    // The container's first check: the view and the token, sent together.
    expect(counter.byCommand).toEqual({ GetItemCommand: 1, BatchGetItemCommand: 1 });
    for (let i = 1; i < credentials.length; i++) {
      counter.reset();
      at(i * 1000);
      expect(await checker.check(credentials[i]!)).toMatchObject({ ok: true });
      expect(counter.byCommand).toEqual({ GetItemCommand: 1 });
    }
    counter.reset();
    at(VIEW_TTL_MS);
    expect(await checker.check(credentials[0]!)).toMatchObject({ ok: true });
    expect(counter.byCommand).toEqual({ GetItemCommand: 1, BatchGetItemCommand: 1 });
  });

  it.each(ROLES)('a hot %s check (same credential within the decision TTL) sends nothing', async (role) => {
    const credential = await credentialFor(role);
    expect(await checker.check(credential)).toMatchObject({ ok: true, identity: { role } });
    counter.reset();
    for (const offset of [1, 1000, DECISION_TTL_MS - 1]) {
      at(offset);
      expect(await checker.check(credential)).toMatchObject({ ok: true });
    }
    expect(counter.total).toBe(0);
    at(DECISION_TTL_MS);
    expect(await checker.check(credential)).toMatchObject({ ok: true });
    expect(counter.byCommand).toEqual({ GetItemCommand: 1 });
  });

  // Each change as the chain announces it, applied by the indexer's rules: refused by the next uncached
  // check (one request), and by a hot one once the decision TTL has passed.
  it.each([
    ['a revoked token', 'user', [{ name: 'seal_token::SealTokenRevoked', data: { token_id: tokenIdOf('user') } }], 'token_revoked'],
    ['a slashed stake', 'node', [{ name: 'staking::StakeSlashed', data: { stake_id: stakeIdOf('node'), amount: '1', remaining: String(DEFAULT_MIN_STAKE_MIST.node - 1n), reason: 'x' } }], 'token_revoked'],
    ['an unbonding stake', 'node', [{ name: 'staking::UnstakeRequested', data: { stake_id: stakeIdOf('node'), unlock_at_ms: '1' } }], 'stake_inactive'],
    ['a withdrawn stake', 'user', [
      { name: 'staking::UnstakeRequested', data: { stake_id: stakeIdOf('user'), unlock_at_ms: '1' } },
      { name: 'staking::StakeWithdrawn', data: { stake_id: stakeIdOf('user'), amount: String(DEFAULT_MIN_STAKE_MIST.user) } },
    ], 'token_revoked'],
    ['an admin the pool revoked', 'admin', [approve('staking::AdminRevoked')], 'admin_not_approved'],
  ] as const)('%s: refused by the next uncached check, and by a hot one after the decision TTL', async (_name, role, events, reason) => {
    const credential = await credentialFor(role);
    expect(await checker.check(credential)).toMatchObject({ ok: true });
    await index(...(events as unknown as DecodedEvent[]));
    const uncached = createTokenChecker({
      index: new DynamoIndexRepository({ tableName: `token-path-${table}`, client: emulatorClient(moto.endpoint!) }),
      clusterId: CLUSTER_ID, freshness: { maxAgeMs: MAX_AGE_MS }, now: () => new Date(nowMs),
    });
    expect(await uncached.check(credential)).toEqual({ ok: false, reason });
    at(DECISION_TTL_MS);
    counter.reset();
    expect(await checker.check(credential)).toEqual({ ok: false, reason });
    expect(counter.byCommand).toEqual({ GetItemCommand: 1 });
  });

  it('a minimum raised on chain refuses the stake within the view TTL, a hot credential within view + decision TTL', async () => {
    const credential = await credentialFor('user');
    expect(await checker.check(credential)).toMatchObject({ ok: true });
    await index({ name: 'staking::MinStakeChanged', data: { role: 0, amount: String(DEFAULT_MIN_STAKE_MIST.user + 1n) } } as DecodedEvent);
    // The worst moment: a decision made on the old view just before it is read again.
    at(VIEW_TTL_MS - 1);
    expect(await checker.check(credential)).toMatchObject({ ok: true });
    at(VIEW_TTL_MS);
    expect(await checker.check(await credentialFor('user'))).toEqual({ ok: false, reason: 'stake_insufficient' });
    at(VIEW_TTL_MS - 1 + DECISION_TTL_MS);
    expect(await checker.check(credential)).toEqual({ ok: false, reason: 'stake_insufficient' });
  });

  it('a stale index fails closed (judged at the view read), and the first check after the indexer recovers is answered', async () => {
    await cover(FIXED_NOW.getTime() - MAX_AGE_MS - 1);
    await expect(checker.check(await credentialFor('user'))).rejects.toBeInstanceOf(IndexStaleError);
    await cover(FIXED_NOW.getTime());
    expect(await checker.check(await credentialFor('user'))).toMatchObject({ ok: true });
  });

  it('an unreachable table is IndexUnavailableError, never a verdict', async () => {
    const down = createTokenChecker({
      index: new DynamoIndexRepository({ tableName: 'any', client: emulatorClient('http://127.0.0.1:9') }),
      clusterId: CLUSTER_ID, freshness: { maxAgeMs: MAX_AGE_MS }, now: () => new Date(nowMs),
    });
    await expect(down.check(await credentialFor('user'))).rejects.toBeInstanceOf(IndexUnavailableError);
  });
});
