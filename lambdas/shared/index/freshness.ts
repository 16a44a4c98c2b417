// A stale index fails closed (issue 12 item 7). Revocations, slashes, unstakes and admin revocations
// reach token checks and node joins only through the indexer; if it stops advancing, the index still
// answers, with state of any age. So every token check and node join also knows how far the indexer has
// covered the chain (the cursor item: node joins read it with the stake, token checks from their
// per-container index view, token-check.ts) and refuses while that is older than the configured bound:
// TokenReview answers 500 (the apiserver retries, does not cache), the other routes 503 `index_stale`.
import * as z from '../runtime/zod';
import { IndexUnavailableError, type IndexFreshness } from './index-model';

/** The bound's limits: at least two indexer intervals of the shortest schedule, at most a day. */
export const MIN_INDEX_MAX_AGE_SECONDS = 120;
export const MAX_INDEX_MAX_AGE_SECONDS = 86_400;

/** Set by the CDK app from `indexer.maxIndexAgeSeconds` (lib/config); validated at cold start. */
export const INDEX_FRESHNESS_ENV = {
  INDEX_MAX_AGE_SECONDS: z.coerce.number().check(z.int(), z.minimum(MIN_INDEX_MAX_AGE_SECONDS), z.maximum(MAX_INDEX_MAX_AGE_SECONDS)),
} as const;

/** Metric (namespace K3sDaas, per function) counting requests refused because the index was stale. */
export const INDEX_STALE_METRIC = 'IndexStaleRefusals';

/** The index is reachable but too old to decide on: a backend failure, with its own reason code. */
export class IndexStaleError extends IndexUnavailableError {
  readonly code = 'index_stale';
  constructor(
    message: string,
    /** How far behind the index is (ms); undefined when the indexer never recorded a position. */
    readonly ageMs: number | undefined,
  ) {
    super(message);
    this.name = 'IndexStaleError';
  }
}

export interface FreshnessPolicy {
  /** Oldest acceptable covered position, in ms. */
  readonly maxAgeMs: number;
  /** Called once per refusal (the Lambdas count it as `IndexStaleRefusals`). */
  readonly onStale?: (error: IndexStaleError) => void;
}

/** Throws `IndexStaleError` unless the index covers the chain up to `maxAgeMs` before `nowMs`. */
export function assertIndexFresh(freshness: IndexFreshness | undefined, nowMs: number, policy: FreshnessPolicy): void {
  const covered = freshness?.coveredThroughMs;
  let error: IndexStaleError | undefined;
  if (covered === undefined || !Number.isFinite(covered)) {
    error = new IndexStaleError('the indexer has not recorded how far it covered the chain yet', undefined);
  } else if (nowMs - covered > policy.maxAgeMs) {
    const ageMs = nowMs - covered;
    error = new IndexStaleError(`the index is ${Math.round(ageMs / 1000)} s behind the chain (bound ${Math.round(policy.maxAgeMs / 1000)} s)`, ageMs);
  }
  if (error) {
    policy.onStale?.(error);
    throw error;
  }
}
