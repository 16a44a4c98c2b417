// How long an answer about a credential may outlive the index state it was computed from (DESIGN §6):
// the apiserver's webhook cache plus the token checker's own per-container decision cache stay within
// the documented 30 s. Its own module so the enclave's K3s configuration can share the numbers without
// importing the token checker.

/** The documented bound: a revocation the indexer has applied is refused by every apiserver call within it. */
export const REVOCATION_CACHE_BOUND_SECONDS = 30;

/** How long a container reuses its index decision for the same credential (a hot check: no round trip). */
export const TOKEN_DECISION_TTL_SECONDS = 5;

/**
 * How long a container reuses its index view (the indexer's coverage and the pool minimums) before
 * reading it again: a raised minimum applies within it, and a stopped indexer is refused within
 * `maxIndexAge` + it.
 */
export const INDEX_VIEW_TTL_SECONDS = 10;

/** The longest webhook cache TTL the apiserver may be given so the bound holds. */
export const MAX_WEBHOOK_CACHE_TTL_SECONDS = REVOCATION_CACHE_BOUND_SECONDS - TOKEN_DECISION_TTL_SECONDS;
