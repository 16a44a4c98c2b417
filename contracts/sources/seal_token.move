/// Seal tokens: the on-chain credentials that let a staker's machines join a K3s-DaaS cluster or let the
/// staker use it with kubectl (DESIGN §7). A token has `key` but not `store`, so only this module can move
/// it: it stays with the address that issued it.
module k3s_daas::seal_token;

use k3s_daas::staking::{Self, StakingPool, StakeReceipt};
use std::string::{Self, String};
use sui::clock::Clock;
use sui::event;

/// Longest lifetime of a token; holders re-issue after that.
const MAX_TTL_MS: u64 = 31_536_000_000; // 365 days
const MAX_CLUSTER_ID_BYTES: u64 = 64;

/// ttl_ms must be between 1 ms and 365 days
const EInvalidTtl: u64 = 100;
/// cluster id must be 1 to 64 bytes
const EInvalidClusterId: u64 = 101;
/// the stake is unbonding or withdrawn
const EStakeNotActive: u64 = 102;
/// the stake was slashed
const EStakeSlashed: u64 = 103;
/// the stake is below the pool minimum for its role
const EInsufficientStake: u64 = 104;
/// the receipt belongs to another pool
const EForeignReceipt: u64 = 105;
/// admin tokens are reserved to approved admins
const ENotApprovedAdmin: u64 = 106;
/// only the stake's owner can issue tokens against it
const ENotStakeOwner: u64 = 107;

public struct SealToken has key {
    id: UID,
    stake_id: ID,
    owner: address,
    role: u8,
    permissions: vector<String>,
    cluster_id: String,
    issued_at_ms: u64,
    expires_at_ms: u64,
}

// Events: layouts fixed by `lambdas/shared/sui/events.ts`.
public struct SealTokenIssued has copy, drop {
    token_id: ID,
    stake_id: ID,
    owner: address,
    role: u8,
    permissions: vector<String>,
    cluster_id: String,
    expires_at_ms: u64,
}

public struct SealTokenRevoked has copy, drop {
    token_id: ID,
}

/// Issues a token for `cluster_id` backed by the receipt's stake and sends it to the caller, who must be
/// the stake's owner: holding (or borrowing a shared) receipt is not enough, so one stake backs one person.
public fun issue(
    pool: &StakingPool,
    receipt: &StakeReceipt,
    cluster_id: String,
    ttl_ms: u64,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    assert!(staking::receipt_pool_id(receipt) == object::id(pool), EForeignReceipt);
    assert!(staking::has_stake(pool, object::id(receipt)), EForeignReceipt);
    assert!(ttl_ms > 0 && ttl_ms <= MAX_TTL_MS, EInvalidTtl);
    let cluster_id_len = cluster_id.length();
    assert!(cluster_id_len > 0 && cluster_id_len <= MAX_CLUSTER_ID_BYTES, EInvalidClusterId);
    assert!(!staking::stake_is_slashed(pool, receipt), EStakeSlashed);
    assert!(staking::stake_status(pool, receipt) == staking::status_active(), EStakeNotActive);
    let role = staking::stake_role(pool, receipt);
    assert!(staking::stake_amount(pool, receipt) >= staking::min_stake(pool, role), EInsufficientStake);

    let owner = ctx.sender();
    assert!(staking::stake_owner(pool, receipt) == owner, ENotStakeOwner);
    assert!(role != staking::role_admin() || staking::is_approved_admin(pool, owner), ENotApprovedAdmin);
    let issued_at_ms = clock.timestamp_ms();
    let expires_at_ms = issued_at_ms + ttl_ms;
    let permissions = tier_permissions(role);
    let token = SealToken {
        id: object::new(ctx),
        stake_id: object::id(receipt),
        owner,
        role,
        permissions,
        cluster_id,
        issued_at_ms,
        expires_at_ms,
    };
    event::emit(SealTokenIssued {
        token_id: object::id(&token),
        stake_id: token.stake_id,
        owner,
        role,
        permissions,
        cluster_id: token.cluster_id,
        expires_at_ms,
    });
    transfer::transfer(token, owner);
}

/// Burns the token; the index drops it within one indexer interval.
public fun revoke(token: SealToken) {
    let SealToken { id, .. } = token;
    event::emit(SealTokenRevoked { token_id: id.to_inner() });
    id.delete();
}

/// Permission seeds per stake tier (`lambdas/shared/sui/roles.ts` TIER_PERMISSIONS mirrors this).
public fun tier_permissions(role: u8): vector<String> {
    if (role == staking::role_user()) {
        vector[string::utf8(b"read")]
    } else if (role == staking::role_node()) {
        vector[string::utf8(b"read"), string::utf8(b"node:write")]
    } else if (role == staking::role_admin()) {
        vector[string::utf8(b"read"), string::utf8(b"write"), string::utf8(b"node:write"), string::utf8(b"admin")]
    } else {
        vector[]
    }
}

// === Views ===

public fun stake_id(token: &SealToken): ID { token.stake_id }
public fun owner(token: &SealToken): address { token.owner }
public fun role(token: &SealToken): u8 { token.role }
public fun permissions(token: &SealToken): vector<String> { token.permissions }
public fun cluster_id(token: &SealToken): String { token.cluster_id }
public fun issued_at_ms(token: &SealToken): u64 { token.issued_at_ms }
public fun expires_at_ms(token: &SealToken): u64 { token.expires_at_ms }
public fun is_expired(token: &SealToken, clock: &Clock): bool { clock.timestamp_ms() >= token.expires_at_ms }

#[test_only]
public fun sealtoken_issued_for_testing(
    token_id: ID,
    stake_id: ID,
    owner: address,
    role: u8,
    permissions: vector<String>,
    cluster_id: String,
    expires_at_ms: u64,
): SealTokenIssued {
    SealTokenIssued { token_id, stake_id, owner, role, permissions, cluster_id, expires_at_ms }
}

#[test_only]
public fun sealtoken_revoked_for_testing(token_id: ID): SealTokenRevoked { SealTokenRevoked { token_id } }

#[test_only]
public fun new_for_testing(
    stake_id: ID,
    owner: address,
    role: u8,
    permissions: vector<String>,
    cluster_id: String,
    issued_at_ms: u64,
    expires_at_ms: u64,
    ctx: &mut TxContext,
): SealToken {
    SealToken { id: object::new(ctx), stake_id, owner, role, permissions, cluster_id, issued_at_ms, expires_at_ms }
}
