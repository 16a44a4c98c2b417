// A token check (DESIGN §5): the credential's own rules, then the seal token and its stake in the index.
// Used by POST /v1/authenticate, POST /v1/tokens/validate and POST /v1/kubeconfig.
//
// Signature verification is the expensive part, so verified credentials are cached per container, keyed
// by the exact credential string, until their `exp`. The index is read on every check, cached or not:
// a revoked token, slashed stake, revoked admin or raised pool minimum takes effect as soon as the indexer
// has seen it (DESIGN §6). Two round trips: the token with the index's freshness, then the stake with the
// role's minimum (and, for admin tokens, the owner's approval). A stale index fails closed
// (`IndexStaleError`, index/freshness.ts).
import type { ClientWithCoreApi } from '@mysten/sui/client';
import { checkClaims, verifyCredential, SignatureVerifierUnavailableError, type CredentialPayload, type CredentialReason } from './credential';
import { IndexUnavailableError, type TokenIndexReader } from '../index/index-model';
import { assertIndexFresh, type FreshnessPolicy } from '../index/freshness';
import { DEFAULT_MIN_STAKE_MIST, ROLES, type Role } from '../sui/roles';

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
  /** Verified credentials kept per container (least recently used dropped first). @default 10000 */
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
}

export interface TokenChecker {
  check(credential: string): Promise<TokenCheckResult>;
  /** Cache counters, for metrics and tests. */
  stats(): { hits: number; misses: number; size: number };
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

export function createTokenChecker(options: TokenCheckerOptions): TokenChecker {
  const { index, clusterId } = options;
  const audience = options.audience ?? clusterId;
  const now = options.now ?? (() => new Date());
  const capacity = options.cacheSize ?? 10_000;
  const fallbackMinStake: Record<Role, bigint> = { ...DEFAULT_MIN_STAKE_MIST, ...options.minStakeMist };
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the LRU one.
  const verified = new Map<string, CredentialPayload>();
  let hits = 0;
  let misses = 0;

  async function verifiedPayload(credential: string, nowMs: number): Promise<{ ok: true; payload: CredentialPayload } | { ok: false; reason: CredentialReason }> {
    const cached = verified.get(credential);
    if (cached) {
      verified.delete(credential);
      const claims = checkClaims(cached, { audience, nowMs });
      if (!claims.ok) return claims; // expired: leave it out of the cache
      verified.set(credential, cached);
      hits++;
      return { ok: true, payload: cached };
    }
    misses++;
    const result = await verifyCredential(credential, {
      audience,
      nowMs,
      zkLoginClient: options.zkLoginClient,
      ed25519FastPath: options.ed25519FastPath,
    });
    if (!result.ok) return result;
    if (capacity > 0) {
      if (verified.size >= capacity) verified.delete(verified.keys().next().value!);
      verified.set(credential, result.value.payload);
    }
    return { ok: true, payload: result.value.payload };
  }

  return {
    stats: () => ({ hits, misses, size: verified.size }),
    async check(credential) {
      const nowMs = now().getTime();
      const credentialResult = await verifiedPayload(credential, nowMs);
      if (!credentialResult.ok) return credentialResult;
      const { payload } = credentialResult;

      // Freshness rides along with the token read: no extra round trip.
      const first = await index.readItems({ tokenId: payload.tok, freshness: true });
      assertIndexFresh(first.freshness, nowMs, options.freshness);
      const { token } = first;
      if (!token) return { ok: false, reason: 'unknown_token' };
      if (token.owner !== payload.sub) return { ok: false, reason: 'not_owner' };
      // A token is issued for one cluster; a credential for another cluster must not reuse it.
      if (token.clusterId !== clusterId) return { ok: false, reason: 'wrong_audience' };
      if (token.revoked || token.invalidated) return { ok: false, reason: 'token_revoked' };
      if (token.expiresAtMs <= nowMs) return { ok: false, reason: 'token_expired' };
      if (!ROLES.includes(token.role)) return { ok: false, reason: 'unknown_token' };

      // Read every time like the stake: a raised minimum takes effect as soon as the indexer has seen it.
      const { stake, minStakeMist, admin } = await index.readItems({
        stakeId: token.stakeId,
        minStakeRole: token.role,
        ...(token.role === 'admin' ? { admin: token.owner } : {}),
      });
      if (!stake || stake.status !== 'active') return { ok: false, reason: 'stake_inactive' };
      if (stake.amountMist < (minStakeMist ?? fallbackMinStake[token.role])) return { ok: false, reason: 'stake_insufficient' };
      // An admin token counts only while its owner is approved: `AdminRevoked` cuts it off (and an index
      // that never saw the approval refuses it too).
      if (token.role === 'admin' && admin?.approved !== true) return { ok: false, reason: 'admin_not_approved' };

      return {
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
      };
    },
  };
}
