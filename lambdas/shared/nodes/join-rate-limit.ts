// Per-stake rate limit of external joins (issue 15 item 2): at most `limit` new admissions per stake in
// any sliding window of `windowMs`. An admission costs a pool token, a KMS decrypt and a transaction, and
// the pool is shared by every joining node; one operator's retry loop must not drain it for all.
//
// One item per stake (`KEYS.joinRate`) holds the times of its admissions inside the current window
// (at most `limit` of them) and a revision; a take is a consistent read, the pure decision below, and a
// put conditional on the revision read, retried when a concurrent take won. The decision is exact: no
// window of `windowMs` ever holds more than `limit` allowed takes (test/lambdas/shared/nodes).
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import * as z from '../runtime/zod';
import { IndexUnavailableError, KEYS } from '../index/index-model';

export interface JoinRatePolicy {
  /** New admissions allowed per stake within any window. */
  limit: number;
  windowMs: number;
}

/** The default: 10 new external nodes per stake per 10 minutes. */
export const DEFAULT_JOIN_RATE: JoinRatePolicy = { limit: 10, windowMs: 10 * 60_000 };

/** Env vars of the external join function (set by lib/api/node-join-routes.ts). */
export const JOIN_RATE_ENV = {
  JOIN_RATE_LIMIT: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000)), DEFAULT_JOIN_RATE.limit),
  JOIN_RATE_WINDOW_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(86_400)), DEFAULT_JOIN_RATE.windowMs / 1000),
};

export type RateDecision = { allowed: true; recent: number[] } | { allowed: false; retryAfterMs: number };

/**
 * The decision for a take at `nowMs`, given the times of earlier allowed takes. Allowed while fewer than
 * `limit` of them are inside `(nowMs - windowMs, nowMs]`; then `recent` is what to store (the kept times
 * plus this one). Refused otherwise, until the oldest kept time leaves the window.
 */
export function decideTake(previous: readonly number[], nowMs: number, policy: JoinRatePolicy): RateDecision {
  const kept = previous.filter((t) => Number.isFinite(t) && t > nowMs - policy.windowMs).sort((a, b) => a - b);
  if (kept.length < policy.limit) return { allowed: true, recent: [...kept, nowMs] };
  // The take at position `length - limit` must leave the window before another fits.
  const oldest = kept[kept.length - policy.limit];
  return { allowed: false, retryAfterMs: Math.max(1, oldest + policy.windowMs - nowMs) };
}

export interface JoinRateLimiter {
  take(stakeId: string, now: Date): Promise<RateDecision>;
}

/** Concurrent takes of one stake that lose the conditional put read again; past this, refuse briefly. */
const TAKE_ATTEMPTS = 5;

export class DynamoJoinRateLimiter implements JoinRateLimiter {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tableName: string,
    private readonly policy: JoinRatePolicy,
  ) {}

  async take(stakeId: string, now: Date): Promise<RateDecision> {
    const key = KEYS.joinRate(stakeId);
    const Key = { pk: { S: key.pk }, sk: { S: key.sk } };
    for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
      let item;
      try {
        ({ Item: item } = await this.db.send(new GetItemCommand({ TableName: this.tableName, Key, ConsistentRead: true })));
      } catch (error) {
        throw new IndexUnavailableError(`read of the join rate failed: ${(error as Error)?.message}`, { cause: error });
      }
      const rev = Number(item?.rev?.N ?? '0');
      const previous = (item?.recent?.L ?? []).map((v) => Number(v.N));
      const decision = decideTake(previous, now.getTime(), this.policy);
      if (!decision.allowed) return decision;
      try {
        await this.db.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              ...Key,
              entity: { S: 'join-rate' },
              stakeId: { S: stakeId },
              recent: { L: decision.recent.map((t) => ({ N: String(t) })) },
              rev: { N: String(rev + 1) },
            },
            ConditionExpression: item ? 'rev = :rev' : 'attribute_not_exists(pk)',
            ...(item ? { ExpressionAttributeValues: { ':rev': { N: String(rev) } } } : {}),
          }),
        );
        return decision;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) continue;
        throw new IndexUnavailableError(`write of the join rate failed: ${(error as Error)?.message}`, { cause: error });
      }
    }
    // Takes of this stake keep colliding: that is a burst by itself.
    return { allowed: false, retryAfterMs: 1000 };
  }
}
