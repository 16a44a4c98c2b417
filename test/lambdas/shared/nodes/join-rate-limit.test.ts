// The per-stake join rate limit's decision (a pure function; the DynamoDB take around it is exercised by
// test/lambdas/node-join/external-join.test.ts against moto). Properties: no window of `windowMs` ever
// holds more than `limit` allowed takes, and a refused take is told exactly when the next one fits.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decideTake, DEFAULT_JOIN_RATE } from '../../../../lambdas/shared/nodes/join-rate-limit';

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
