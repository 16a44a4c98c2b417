// A token check (DESIGN §5): the credential's own rules, then the seal token and its stake in the index.
// Used by POST /v1/authenticate, POST /v1/tokens/validate and POST /v1/kubeconfig.
//
// Index reads (issue 16): an uncached check makes exactly one request, a strongly consistent GetItem of
// the token item, which carries the stake's status and amount and an admin owner's approval (the indexer
// keeps them current, index/event-applier.ts). What every check shares — how far the indexer covered the
// chain and the pool's minimums — is the per-container index view, read in one request at most every
// `INDEX_VIEW_TTL_SECONDS` and shared by concurrent checks. A hot check (the same credential within
// `TOKEN_DECISION_TTL_SECONDS`) reuses the container's decision and makes no request; with the
// apiserver's cache that stays within the 30 s revocation bound (revocation-bound.ts, DESIGN §6).
//
// Signature verification is the expensive part, so verified credentials are cached per container, keyed
// by the exact credential string, until their `exp`. A stale index fails closed (`IndexStaleError`,
// index/freshness.ts): judged at the view's read time, so the index a check decides on is at most
// maxIndexAge + the view TTL behind the chain.
import type { ClientWithCoreApi } from '@mysten/sui/client';
import { checkClaims, verifyCredential, SignatureVerifierUnavailableError, type CredentialPayload, type CredentialReason } from './credential';
import { IndexUnavailableError, type IndexView, type SealTokenRecord, type TokenBacking, type TokenIndexReader } from '../index/index-model';
import { assertIndexFresh, type FreshnessPolicy } from '../index/freshness';
import { INDEX_VIEW_TTL_SECONDS, TOKEN_DECISION_TTL_SECONDS } from './revocation-bound';
import { DEFAULT_MIN_STAKE_MIST, ROLES, type Role } from '../sui/roles';
import { RecencyCache } from './recency-cache';

export type IndexReason =
  | 'unknown_token' | 'not_owner' | 'token_expired' | 'token_revoked' | 'stake_inactive' | 'stake_insufficient' | 'admin_not_approved';
export type TokenCheckReason = CredentialReason | IndexReason;

/** Every reason code of DESIGN §4, in the order the checks run. */
export const TOKEN_CHECK_REASONS: readonly TokenCheckReason[] = [
  'malformed', 'lifetime_too_long', 'wrong_audience', 'not_yet_valid', 'expired', 'bad_signature',
  'unknown_token', 'not_owner', 'token_revoked', 'token_expired', 'stake_inactive', 'stake_insufficient', 'admin_not_approved',
];

export const GROUP_PREFIX = 'k3s-daas:';

/**
 * The `aud` of a join credential (issue 15): the DESIGN §5 format with an audience of its own, so a kubectl
 * credential (aud = cluster id) is `wrong_audience` at the join route and a join credential is at the webhook.
 */
export function joinAudience(clusterId: string): string {
  return `k3s-daas-join:${clusterId}`;
}

export interface Identity {
  /** `sui:<address>`. */
  username: string;
  /** The seal token id. */
  uid: string;
  /** `k3s-daas:<role>` then `k3s-daas:perm:<permission>` per (well-formed) permission. */
  groups: string[];
  address: string;
  tokenId: string;
  stakeId: string;
  role: Role;
  /** When this identity stops being valid: the earlier of the credential's `exp` and the token's expiry (ISO 8601). */
  expiresAt: string;
}

export type TokenCheckResult = { ok: true; identity: Identity } | { ok: false; reason: TokenCheckReason };

export interface TokenCheckerOptions {
  readonly index: TokenIndexReader;
  /** The cluster this checker serves: tokens must be issued for it (and, by default, credentials name it in `aud`). */
  readonly clusterId: string;
  /**
   * What a credential's `aud` must equal: the cluster id for kubectl credentials (the default), or
   * `joinAudience(clusterId)` at the credential-authenticated join route, so neither kind replays as the other.
   */
  readonly audience?: string;
  /** How old the index may be before every check refuses (index/freshness.ts). */
  readonly freshness: FreshnessPolicy;
  readonly now?: () => Date;
  /** Verified credentials kept per container (least recently used dropped first, recency-cache.ts). @default 10000 */
  readonly cacheSize?: number;
  /** Sui client for zkLogin signatures; without one zkLogin credentials are refused. */
  readonly zkLoginClient?: ClientWithCoreApi;
  /**
   * Fallback minimum per role while the index holds none (the pool never changed it): the pool's
   * publish-time defaults unless given. A minimum the indexer recorded from `MinStakeChanged` wins.
   */
  readonly minStakeMist?: Partial<Record<Role, bigint>>;
  /** @default true — see `SignatureVerifyOptions`. */
  readonly ed25519FastPath?: boolean;
  /** How long the index view is reused. @default INDEX_VIEW_TTL_SECONDS × 1000 */
  readonly viewTtlMs?: number;
  /** How long an index decision is reused for the same credential (0 = never). @default TOKEN_DECISION_TTL_SECONDS × 1000 */
  readonly decisionTtlMs?: number;
}

export interface TokenCheckStats {
  /** Checks whose credential was already verified (cached signature). */
  hits: number;
  /** Checks that verified a signature. */
  misses: number;
  /** Credentials cached. */
  size: number;
  /** Checks answered from the decision cache: no index request. */
  decisionHits: number;
  /** Index view reads sent (one request each). */
  viewReads: number;
  /** Token reads sent (one request each), plus the legacy second reads of tokens without `backing`. */
  tokenReads: number;
  legacyReads: number;
}

export interface TokenChecker {
  check(credential: string): Promise<TokenCheckResult>;
  /** Cache and request counters, for metrics, tests and benchmarks (round trips = viewReads + tokenReads + legacyReads). */
  stats(): TokenCheckStats;
}

/** Whether a check failed because a backend (index, zkLogin node) could not answer: fail closed, retry. */
export function isBackendUnavailable(error: unknown): boolean {
  return error instanceof IndexUnavailableError || error instanceof SignatureVerifierUnavailableError;
}

// Permissions come from chain data anyone can influence through the Move package's seeds; only simple
// names become groups, so no odd characters (or a `system:` look-alike) ever reach RBAC.
const PERMISSION = /^[a-z0-9](?:[a-z0-9:_-]{0,61}[a-z0-9])?$/;

export function groupsFor(role: Role, permissions: readonly string[]): string[] {
  const groups = [`${GROUP_PREFIX}${role}`];
  for (const permission of permissions) {
    if (!PERMISSION.test(permission)) continue;
    const group = `${GROUP_PREFIX}perm:${permission}`;
    if (!groups.includes(group)) groups.push(group);
  }
  return groups;
}

interface CacheEntry {
  payload: CredentialPayload;
  /** The index decision for this credential and when it was made (reused for `decisionTtlMs`). */
  decision?: { result: TokenCheckResult; atMs: number; tokenExpiresAtMs: number };
}

interface HeldView {
  view: IndexView;
  readAtMs: number;
}

export function createTokenChecker(options: TokenCheckerOptions): TokenChecker {
  const { index, clusterId } = options;
  const audience = options.audience ?? clusterId;
  const now = options.now ?? (() => new Date());
  const capacity = options.cacheSize ?? 10_000;
  const viewTtlMs = options.viewTtlMs ?? INDEX_VIEW_TTL_SECONDS * 1000;
  const decisionTtlMs = options.decisionTtlMs ?? TOKEN_DECISION_TTL_SECONDS * 1000;
  const fallbackMinStake: Record<Role, bigint> = { ...DEFAULT_MIN_STAKE_MIST, ...options.minStakeMist };
  // Least recently used dropped first (recency-cache.ts: a hot key costs no rehash of the full map).
  const cache = new RecencyCache<string, CacheEntry>(capacity);
  const counters = { hits: 0, misses: 0, decisionHits: 0, viewReads: 0, tokenReads: 0, legacyReads: 0 };
  let held: HeldView | undefined;
  let pendingView: Promise<HeldView> | undefined;

  async function verifiedEntry(credential: string, nowMs: number): Promise<{ ok: true; entry: CacheEntry } | { ok: false; reason: CredentialReason }> {
    const cached = cache.get(credential);
    if (cached) {
      const claims = checkClaims(cached.payload, { audience, nowMs });
      if (!claims.ok) {
        cache.delete(credential); // expired: leave it out of the cache
        return claims;
      }
      counters.hits++;
      return { ok: true, entry: cached };
    }
    counters.misses++;
    const result = await verifyCredential(credential, {
      audience,
      nowMs,
      zkLoginClient: options.zkLoginClient,
      ed25519FastPath: options.ed25519FastPath,
    });
    if (!result.ok) return result;
    const entry: CacheEntry = { payload: result.value.payload };
    cache.set(credential, entry);
    return { ok: true, entry };
  }

  /**
   * The index view, read again once it is `viewTtlMs` old; one read in flight, shared by every check
   * waiting for it. A failed read is not kept (the next check tries again), nor is a stale one: a
   * recovered indexer is seen by the next check.
   */
  function currentView(nowMs: number): HeldView | Promise<HeldView> {
    if (held && nowMs >= held.readAtMs && nowMs - held.readAtMs < viewTtlMs) return held;
    pendingView ??= (async () => {
      try {
        counters.viewReads++;
        const view = await index.readIndexView();
        const next = { view, readAtMs: now().getTime() };
        held = isFresh(next) ? next : undefined;
        return next;
      } finally {
        pendingView = undefined;
      }
    })();
    return pendingView;
  }

  function isFresh({ view, readAtMs }: HeldView): boolean {
    const covered = view.freshness.coveredThroughMs;
    return covered !== undefined && Number.isFinite(covered) && readAtMs - covered <= options.freshness.maxAgeMs;
  }

  /** The token's backing: its own copy, or (an item written before copies existed) the stake and approval read now. */
  async function backingOf(token: SealTokenRecord): Promise<TokenBacking> {
    if (token.backing) return token.backing;
    counters.legacyReads++;
    const { stake, admin } = await index.readItems({ stakeId: token.stakeId, ...(token.role === 'admin' ? { admin: token.owner } : {}) });
    return { ...(stake ? { stake: { status: stake.status, amountMist: stake.amountMist } } : {}), adminApproved: token.role === 'admin' && admin?.approved === true };
  }

  async function decide(payload: CredentialPayload, nowMs: number): Promise<{ result: TokenCheckResult; tokenExpiresAtMs: number }> {
    // The token read never waits for the view: when the view is due, both go out together.
    counters.tokenReads++;
    const [heldView, token] = await Promise.all([currentView(nowMs), index.readTokenForCheck(payload.tok)]);
    // Judged at the view's read time: the decision rests on an index at most maxAge + viewTtl behind.
    assertIndexFresh(heldView.view.freshness, heldView.readAtMs, options.freshness);
    const refuse = (reason: TokenCheckReason) => ({ result: { ok: false, reason } as TokenCheckResult, tokenExpiresAtMs: Number.POSITIVE_INFINITY });
    if (!token) return refuse('unknown_token');
    if (token.owner !== payload.sub) return refuse('not_owner');
    // A token is issued for one cluster; a credential for another cluster must not reuse it.
    if (token.clusterId !== clusterId) return refuse('wrong_audience');
    if (token.revoked || token.invalidated) return refuse('token_revoked');
    if (token.expiresAtMs <= nowMs) return refuse('token_expired');
    if (!ROLES.includes(token.role)) return refuse('unknown_token');

    const backing = await backingOf(token);
    if (!backing.stake || backing.stake.status !== 'active') return refuse('stake_inactive');
    if (backing.stake.amountMist < (heldView.view.minStakeMist[token.role] ?? fallbackMinStake[token.role])) return refuse('stake_insufficient');
    // An admin token counts only while its owner is approved: `AdminRevoked` cuts it off (and an index
    // that never saw the approval refuses it too).
    if (token.role === 'admin' && !backing.adminApproved) return refuse('admin_not_approved');

    return {
      tokenExpiresAtMs: token.expiresAtMs,
      result: {
        ok: true,
        identity: {
          username: `sui:${payload.sub}`,
          uid: token.tokenId,
          groups: groupsFor(token.role, token.permissions),
          address: payload.sub,
          tokenId: token.tokenId,
          stakeId: token.stakeId,
          role: token.role,
          expiresAt: new Date(Math.min(payload.exp * 1000, token.expiresAtMs)).toISOString(),
        },
      },
    };
  }

  return {
    stats: () => ({ ...counters, size: cache.size }),
    async check(credential) {
      const nowMs = now().getTime();
      const verified = await verifiedEntry(credential, nowMs);
      if (!verified.ok) return verified;
      const { entry } = verified;

      // A hot check: the same answer as a moment ago, refusals included, for at most decisionTtlMs.
      const previous = entry.decision;
      if (previous && nowMs >= previous.atMs && nowMs - previous.atMs < decisionTtlMs) {
        if (previous.tokenExpiresAtMs <= nowMs) return { ok: false, reason: 'token_expired' };
        counters.decisionHits++;
        return previous.result;
      }
      entry.decision = undefined;
      // Backend failures throw out of here and are never kept.
      const { result, tokenExpiresAtMs } = await decide(entry.payload, nowMs);
      if (decisionTtlMs > 0) entry.decision = { result, atMs: nowMs, tokenExpiresAtMs };
      return result;
    },
  };
}
