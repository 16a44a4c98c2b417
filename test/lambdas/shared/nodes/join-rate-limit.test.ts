// The per-stake join rate limit: its decision (a pure function) and the DynamoDB take around it under a
// concurrent take (moto; the route-level behaviour is in test/lambdas/node-join/external-join.test.ts). Properties: no window of `windowMs` ever
// holds more than `limit` allowed takes, and a refused take is told exactly when the next one fits.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { decideTake, DEFAULT_JOIN_RATE, DynamoJoinRateLimiter } from '../../../../lambdas/shared/nodes/join-rate-limit';
import { describeWithMoto, startMoto, type Moto } from '../../../support/moto';
import { clients, createIndexTable } from '../../../support/worker-fixtures';

/** Replays `times` (ascending) through the decision the way the store does; returns the allowed ones. */
function replay(times: number[], policy: { limit: number; windowMs: number }) {
  let stored: number[] = [];
  const allowed: number[] = [];
  const refusals: { at: number; retryAfterMs: number }[] = [];
  for (const t of times) {
    const d = decideTake(stored, t, policy);
    if (d.allowed) {
      stored = d.recent;
      allowed.push(t);
    } else refusals.push({ at: t, retryAfterMs: d.retryAfterMs });
  }
  return { allowed, refusals, stored };
}

const arrivals = fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 80 }).map((a) => a.sort((x, y) => x - y));
/** Report the first counterexample as found: shrinking 80-take histories is slow on a loaded machine. */
const RUN = { numRuns: 300, endOnFailure: true } as const;
const policies = fc.record({ limit: fc.integer({ min: 1, max: 12 }), windowMs: fc.integer({ min: 1, max: 1_000_000 }) });

describe('decideTake', () => {
  it('never allows more than `limit` takes in any window of `windowMs`', () => {
    fc.assert(
      fc.property(arrivals, policies, (times, policy) => {
        const { allowed } = replay(times, policy);
        for (let i = 0; i + policy.limit < allowed.length; i++) {
          // The (limit+1)-th allowed take after allowed[i] is at least a full window later.
          expect(allowed[i + policy.limit] - allowed[i]).toBeGreaterThanOrEqual(policy.windowMs);
        }
      }),
      RUN,
    );
  });

  it('allows every take while fewer than `limit` are in the window (it refuses only when it must)', () => {
    fc.assert(
      fc.property(arrivals, policies, (times, policy) => {
        const { allowed, refusals } = replay(times, policy);
        for (const r of refusals) {
          const inWindow = allowed.filter((t) => t > r.at - policy.windowMs && t <= r.at).length;
          expect(inWindow).toBeGreaterThanOrEqual(policy.limit);
        }
      }),
      RUN,
    );
  });

  it('tells a refused take when the next one fits: retrying after Retry-After is allowed, a millisecond earlier is not', () => {
    fc.assert(
      fc.property(arrivals, policies, (times, policy) => {
        const { stored, refusals } = replay(times, policy);
        const last = refusals.at(-1);
        fc.pre(last !== undefined && times.every((t) => t <= last.at));
        expect(decideTake(stored, last!.at + last!.retryAfterMs, policy).allowed).toBe(true);
        if (last!.retryAfterMs > 1) expect(decideTake(stored, last!.at + last!.retryAfterMs - 1, policy).allowed).toBe(false);
      }),
      RUN,
    );
  });

  it('stores at most `limit` times, and ignores garbage in the stored list', () => {
    const d = decideTake([Number.NaN, 1, 2, 3], 4, { limit: 3, windowMs: 10 });
    expect(d).toEqual({ allowed: false, retryAfterMs: 7 });
    const ok = decideTake([Number.NaN, -5, 1], 20, { limit: 2, windowMs: 10 });
    expect(ok).toEqual({ allowed: true, recent: [20] });
  });

  it('defaults to 10 per 10 minutes', () => {
    expect(DEFAULT_JOIN_RATE).toEqual({ limit: 10, windowMs: 600_000 });
  });
});

describeWithMoto('DynamoJoinRateLimiter (moto)', () => {
  let moto: Moto;
  let db: DynamoDBClient;
  const STAKE = '0x' + '5e'.repeat(32);
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    db = clients(moto.endpoint).db;
    await createIndexTable(db, 'index');
  });

  it('a take that loses the race to a concurrent one reads again: the limit holds, nothing is lost', async () => {
    const policy = { limit: 2, windowMs: 60_000 };
    const at = new Date('2026-11-23T00:00:00Z');
    const limiter = new DynamoJoinRateLimiter(db, 'index', policy);
    // The concurrent take lands between this take's read and its conditional put.
    let raced = 0;
    const racing = {
      send: async (command: unknown) => {
        if (command instanceof PutItemCommand && raced < 2) {
          raced++;
          expect((await limiter.take(STAKE, at)).allowed).toBe(true);
        }
        return db.send(command as never);
      },
    } as unknown as DynamoDBClient;
    // Two concurrent takes won the two places; this one, retrying on its lost conditional put, is refused.
    expect(await new DynamoJoinRateLimiter(racing, 'index', policy).take(STAKE, at)).toEqual({ allowed: false, retryAfterMs: 60_000 });
    expect(raced).toBe(2);
    const later = new Date(at.getTime() + 60_000);
    expect((await limiter.take(STAKE, later)).allowed).toBe(true);
    // Each stake has its own item.
    expect((await limiter.take('0x' + '6f'.repeat(32), at)).allowed).toBe(true);
  });
});
