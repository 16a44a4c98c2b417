/// Stakes of K3s-DaaS users, node operators and admins (DESIGN §7).
///
/// The shared `StakingPool` holds every stake's `Balance<SUI>` so the admin can slash a stake without its
/// owner's signature. A stake is identified by the id of its `StakeReceipt`; the receipt is the right to
/// unstake, withdraw and issue seal tokens against the stake.
///
/// Life cycle: active --request_unstake--> unbonding --withdraw (after the role's lock-up)--> withdrawn.
/// `slash` works on active and unbonding stakes and marks them slashed for good: a slashed stake can
/// still be unstaked and withdrawn (what is left of it) but never backs a seal token again.
module k3s_daas::staking;

use std::string::String;
use sui::balance::{Self, Balance};
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::event;
use sui::sui::SUI;
use sui::table::{Self, Table};
use sui::vec_set::{Self, VecSet};

// Roles (`lambdas/shared/sui/roles.ts` mirrors these).
const ROLE_USER: u8 = 0;
const ROLE_NODE: u8 = 1;
const ROLE_ADMIN: u8 = 2;
const ROLE_COUNT: u64 = 3;

// Publish-time defaults, in MIST (1 SUI = 10^9 MIST) and milliseconds.
const DEFAULT_MIN_STAKE_USER: u64 = 100_000_000;
const DEFAULT_MIN_STAKE_NODE: u64 = 1_000_000_000;
const DEFAULT_MIN_STAKE_ADMIN: u64 = 10_000_000_000;
const DAY_MS: u64 = 86_400_000;
const DEFAULT_LOCKUP_USER_MS: u64 = 86_400_000; // 1 day
const DEFAULT_LOCKUP_NODE_MS: u64 = 604_800_000; // 7 days
const DEFAULT_LOCKUP_ADMIN_MS: u64 = 1_209_600_000; // 14 days
/// Upper bound for a configured lock-up, so a mistaken admin call cannot lock funds for ever.
const MAX_LOCKUP_MS: u64 = 365 * DAY_MS;
const MAX_NODE_ID_BYTES: u64 = 128;

// Stake status.
const STATUS_ACTIVE: u8 = 0;
const STATUS_UNBONDING: u8 = 1;
const STATUS_WITHDRAWN: u8 = 2;

// Errors: plain, stable codes, unique in the package (staking 0–99, seal_token 100–199, enclave_registry
// 200–299) so a client can name an abort from its code alone (`lambdas/shared/sui/move-errors.ts`).
/// role must be 0 (user), 1 (node) or 2 (admin)
const EInvalidRole: u64 = 0;
/// stake is below the minimum for its role
const EStakeBelowMinimum: u64 = 1;
/// node stakes need a node id of 1 to 128 bytes; other roles none
const EInvalidNodeId: u64 = 2;
/// the receipt or admin cap belongs to another pool
const EWrongPool: u64 = 3;
/// no such stake in this pool
const EUnknownStake: u64 = 4;
/// the stake is already unbonding
const EAlreadyUnbonding: u64 = 5;
/// the stake was already withdrawn
const EAlreadyWithdrawn: u64 = 6;
/// request_unstake before withdraw
const ENotUnbonding: u64 = 7;
/// the lock-up period has not ended
const ELockupNotOver: u64 = 8;
/// slash amount must be positive
const EZeroSlash: u64 = 9;
/// slash amount exceeds the stake
const ESlashExceedsStake: u64 = 10;
/// lock-up must be at most 365 days
const EInvalidLockup: u64 = 11;
/// minimum stake must be positive
const EZeroMinimum: u64 = 12;
/// amount exceeds the slashed funds held by the pool
const ENothingSlashed: u64 = 13;
/// only a withdrawn stake's receipt can be destroyed
const ENotWithdrawn: u64 = 14;
/// admin stakes are reserved to addresses the admin has approved
const ENotApprovedAdmin: u64 = 15;
/// the address is already an approved admin
const EAlreadyApprovedAdmin: u64 = 16;

/// Minted once, at publish, to the publisher: slashes stakes and tunes the pool.
public struct AdminCap has key, store {
    id: UID,
    pool_id: ID,
}

public struct StakingPool has key {
    id: UID,
    /// Indexed by role.
    min_stake: vector<u64>,
    /// Indexed by role: how long an unbonding stake stays slashable before it can be withdrawn.
    lockup_ms: vector<u64>,
    stakes: Table<ID, Stake>,
    /// Funds taken by `slash`, until the admin collects them.
    slashed_funds: Balance<SUI>,
    /// Who may hold admin stakes: an admin token grants everything on the cluster, so SUI alone must not
    /// buy it. The publisher is approved at publish.
    approved_admins: VecSet<address>,
}

public struct Stake has store {
    owner: address,
    role: u8,
    node_id: String,
    balance: Balance<SUI>,
    staked_at_ms: u64,
    status: u8,
    slashed: bool,
    unlock_at_ms: u64,
}

/// Proof of a stake; its object id is the stake id. It may be handed on (`store`): the holder can then
/// unstake and withdraw, but only the stake's owner (who deposited it) can issue seal tokens against it.
public struct StakeReceipt has key, store {
    id: UID,
    pool_id: ID,
}

// Events: layouts fixed by `lambdas/shared/sui/events.ts` (BCS has no field names; keep order and types).
public struct StakeDeposited has copy, drop {
    stake_id: ID,
    owner: address,
    role: u8,
    amount: u64,
    node_id: String,
}

public struct UnstakeRequested has copy, drop {
    stake_id: ID,
    unlock_at_ms: u64,
}

public struct StakeWithdrawn has copy, drop {
    stake_id: ID,
    amount: u64,
}

public struct StakeSlashed has copy, drop {
    stake_id: ID,
    amount: u64,
    remaining: u64,
    reason: String,
}

/// A role's minimum changed: the index follows it so token checks and node joins use the live value.
public struct MinStakeChanged has copy, drop {
    role: u8,
    amount: u64,
}

/// `admin` may now hold admin stakes and tokens (also emitted for the publisher at publish).
public struct AdminApproved has copy, drop {
    admin: address,
}

/// `admin` is no longer approved: the index refuses their admin tokens from then on.
public struct AdminRevoked has copy, drop {
    admin: address,
}

fun init(ctx: &mut TxContext) {
    let pool = StakingPool {
        id: object::new(ctx),
        min_stake: vector[DEFAULT_MIN_STAKE_USER, DEFAULT_MIN_STAKE_NODE, DEFAULT_MIN_STAKE_ADMIN],
        lockup_ms: vector[DEFAULT_LOCKUP_USER_MS, DEFAULT_LOCKUP_NODE_MS, DEFAULT_LOCKUP_ADMIN_MS],
        stakes: table::new(ctx),
        slashed_funds: balance::zero(),
        approved_admins: vec_set::singleton(ctx.sender()),
    };
    let cap = AdminCap { id: object::new(ctx), pool_id: object::id(&pool) };
    // The index learns approvals only from events, so the publisher's approval is announced too.
    event::emit(AdminApproved { admin: ctx.sender() });
    transfer::share_object(pool);
    transfer::transfer(cap, ctx.sender());
}

/// Locks `payment` in the pool as a stake of `role`. Node stakes name the node (operator) id they back.
public fun stake(
    pool: &mut StakingPool,
    payment: Coin<SUI>,
    role: u8,
    node_id: String,
    clock: &Clock,
    ctx: &mut TxContext,
): StakeReceipt {
    assert!(is_valid_role(role), EInvalidRole);
    let amount = payment.value();
    assert!(amount >= pool.min_stake[role as u64], EStakeBelowMinimum);
    assert!(role != ROLE_ADMIN || pool.approved_admins.contains(&ctx.sender()), ENotApprovedAdmin);
    let node_id_len = node_id.length();
    if (role == ROLE_NODE) {
        assert!(node_id_len > 0 && node_id_len <= MAX_NODE_ID_BYTES, EInvalidNodeId);
    } else {
        assert!(node_id_len == 0, EInvalidNodeId);
    };
    let receipt = StakeReceipt { id: object::new(ctx), pool_id: object::id(pool) };
    let stake_id = object::id(&receipt);
    let owner = ctx.sender();
    event::emit(StakeDeposited { stake_id, owner, role, amount, node_id });
    pool.stakes.add(stake_id, Stake {
        owner,
        role,
        node_id,
        balance: payment.into_balance(),
        staked_at_ms: clock.timestamp_ms(),
        status: STATUS_ACTIVE,
        slashed: false,
        unlock_at_ms: 0,
    });
    receipt
}

/// Starts the lock-up; the stake stops backing seal tokens at once.
public fun request_unstake(pool: &mut StakingPool, receipt: &StakeReceipt, clock: &Clock) {
    let lockup = pool.lockup_ms;
    let stake_id = object::id(receipt);
    let stake = borrow_stake_mut(pool, receipt);
    assert!(stake.status != STATUS_UNBONDING, EAlreadyUnbonding);
    assert!(stake.status != STATUS_WITHDRAWN, EAlreadyWithdrawn);
    let unlock_at_ms = clock.timestamp_ms() + lockup[stake.role as u64];
    stake.status = STATUS_UNBONDING;
    stake.unlock_at_ms = unlock_at_ms;
    event::emit(UnstakeRequested { stake_id, unlock_at_ms });
}

/// Pays out what is left of an unbonding stake once its lock-up has ended.
public fun withdraw(
    pool: &mut StakingPool,
    receipt: &StakeReceipt,
    clock: &Clock,
    ctx: &mut TxContext,
): Coin<SUI> {
    let stake_id = object::id(receipt);
    let stake = borrow_stake_mut(pool, receipt);
    assert!(stake.status != STATUS_WITHDRAWN, EAlreadyWithdrawn);
    assert!(stake.status == STATUS_UNBONDING, ENotUnbonding);
    assert!(clock.timestamp_ms() >= stake.unlock_at_ms, ELockupNotOver);
    stake.status = STATUS_WITHDRAWN;
    let amount = stake.balance.value();
    event::emit(StakeWithdrawn { stake_id, amount });
    coin::from_balance(stake.balance.withdraw_all(), ctx)
}

/// Deletes the receipt of a withdrawn stake (the pool keeps the empty record for history).
public fun destroy_receipt(pool: &StakingPool, receipt: StakeReceipt) {
    assert!(receipt.pool_id == object::id(pool), EWrongPool);
    let stake_id = object::id(&receipt);
    assert!(pool.stakes.contains(stake_id), EUnknownStake);
    assert!(pool.stakes[stake_id].status == STATUS_WITHDRAWN, ENotWithdrawn);
    let StakeReceipt { id, pool_id: _ } = receipt;
    id.delete();
}

/// Takes `amount` from an active or unbonding stake and marks it slashed for good.
public fun slash(
    cap: &AdminCap,
    pool: &mut StakingPool,
    stake_id: ID,
    amount: u64,
    reason: String,
    _clock: &Clock,
) {
    assert!(cap.pool_id == object::id(pool), EWrongPool);
    assert!(pool.stakes.contains(stake_id), EUnknownStake);
    assert!(amount > 0, EZeroSlash);
    let stake = &mut pool.stakes[stake_id];
    assert!(stake.status != STATUS_WITHDRAWN, EAlreadyWithdrawn);
    assert!(amount <= stake.balance.value(), ESlashExceedsStake);
    let taken = stake.balance.split(amount);
    stake.slashed = true;
    let remaining = stake.balance.value();
    pool.slashed_funds.join(taken);
    event::emit(StakeSlashed { stake_id, amount, remaining, reason });
}

/// Moves slashed funds out of the pool (to a treasury, a victim, …).
public fun collect_slashed(cap: &AdminCap, pool: &mut StakingPool, amount: u64, ctx: &mut TxContext): Coin<SUI> {
    assert!(cap.pool_id == object::id(pool), EWrongPool);
    assert!(amount <= pool.slashed_funds.value(), ENothingSlashed);
    coin::from_balance(pool.slashed_funds.split(amount), ctx)
}

/// Changes a role's minimum. Existing stakes below it keep their funds but stop backing new seal tokens.
public fun set_min_stake(cap: &AdminCap, pool: &mut StakingPool, role: u8, amount: u64) {
    assert!(cap.pool_id == object::id(pool), EWrongPool);
    assert!(is_valid_role(role), EInvalidRole);
    assert!(amount > 0, EZeroMinimum);
    *pool.min_stake.borrow_mut(role as u64) = amount;
    event::emit(MinStakeChanged { role, amount });
}

/// Changes a role's lock-up; stakes already unbonding keep their unlock time.
public fun set_lockup(cap: &AdminCap, pool: &mut StakingPool, role: u8, lockup_ms: u64) {
    assert!(cap.pool_id == object::id(pool), EWrongPool);
    assert!(is_valid_role(role), EInvalidRole);
    assert!(lockup_ms <= MAX_LOCKUP_MS, EInvalidLockup);
    *pool.lockup_ms.borrow_mut(role as u64) = lockup_ms;
}

/// Lets `admin` hold admin stakes (and so admin seal tokens).
public fun approve_admin(cap: &AdminCap, pool: &mut StakingPool, admin: address) {
    assert!(cap.pool_id == object::id(pool), EWrongPool);
    assert!(!pool.approved_admins.contains(&admin), EAlreadyApprovedAdmin);
    pool.approved_admins.insert(admin);
    event::emit(AdminApproved { admin });
}

/// Stops `admin` from staking or issuing as admin. Their existing admin tokens stay on chain until they
/// expire, but the index applies `AdminRevoked` and token checks refuse them from the next indexer run.
public fun revoke_admin(cap: &AdminCap, pool: &mut StakingPool, admin: address) {
    assert!(cap.pool_id == object::id(pool), EWrongPool);
    assert!(pool.approved_admins.contains(&admin), ENotApprovedAdmin);
    pool.approved_admins.remove(&admin);
    event::emit(AdminRevoked { admin });
}

public fun is_approved_admin(pool: &StakingPool, admin: address): bool { pool.approved_admins.contains(&admin) }

fun borrow_stake_mut(pool: &mut StakingPool, receipt: &StakeReceipt): &mut Stake {
    assert!(receipt.pool_id == object::id(pool), EWrongPool);
    let stake_id = object::id(receipt);
    assert!(pool.stakes.contains(stake_id), EUnknownStake);
    &mut pool.stakes[stake_id]
}

fun borrow_stake(pool: &StakingPool, receipt: &StakeReceipt): &Stake {
    assert!(receipt.pool_id == object::id(pool), EWrongPool);
    let stake_id = object::id(receipt);
    assert!(pool.stakes.contains(stake_id), EUnknownStake);
    &pool.stakes[stake_id]
}

public fun is_valid_role(role: u8): bool { (role as u64) < ROLE_COUNT }

// === Views ===

public fun role_user(): u8 { ROLE_USER }
public fun role_node(): u8 { ROLE_NODE }
public fun role_admin(): u8 { ROLE_ADMIN }
public fun status_active(): u8 { STATUS_ACTIVE }
public fun status_unbonding(): u8 { STATUS_UNBONDING }
public fun status_withdrawn(): u8 { STATUS_WITHDRAWN }

public fun min_stake(pool: &StakingPool, role: u8): u64 {
    assert!(is_valid_role(role), EInvalidRole);
    pool.min_stake[role as u64]
}

public fun lockup_ms(pool: &StakingPool, role: u8): u64 {
    assert!(is_valid_role(role), EInvalidRole);
    pool.lockup_ms[role as u64]
}

public fun slashed_funds(pool: &StakingPool): u64 { pool.slashed_funds.value() }

public fun receipt_pool_id(receipt: &StakeReceipt): ID { receipt.pool_id }

public fun has_stake(pool: &StakingPool, stake_id: ID): bool { pool.stakes.contains(stake_id) }

/// Aborts with `EWrongPool` or `EUnknownStake` for a foreign receipt.
public fun stake_owner(pool: &StakingPool, receipt: &StakeReceipt): address { borrow_stake(pool, receipt).owner }
public fun stake_role(pool: &StakingPool, receipt: &StakeReceipt): u8 { borrow_stake(pool, receipt).role }
public fun stake_amount(pool: &StakingPool, receipt: &StakeReceipt): u64 { borrow_stake(pool, receipt).balance.value() }
public fun stake_node_id(pool: &StakingPool, receipt: &StakeReceipt): String { borrow_stake(pool, receipt).node_id }
public fun stake_status(pool: &StakingPool, receipt: &StakeReceipt): u8 { borrow_stake(pool, receipt).status }
public fun stake_is_slashed(pool: &StakingPool, receipt: &StakeReceipt): bool { borrow_stake(pool, receipt).slashed }
public fun stake_unlock_at_ms(pool: &StakingPool, receipt: &StakeReceipt): u64 { borrow_stake(pool, receipt).unlock_at_ms }
public fun stake_staked_at_ms(pool: &StakingPool, receipt: &StakeReceipt): u64 { borrow_stake(pool, receipt).staked_at_ms }

#[test_only]
public fun init_for_testing(ctx: &mut TxContext) { init(ctx) }

#[test_only]
/// A second, independent pool (with its cap) for foreign-receipt and wrong-cap tests.
public fun new_pool_for_testing(ctx: &mut TxContext): (StakingPool, AdminCap) {
    let pool = StakingPool {
        id: object::new(ctx),
        min_stake: vector[DEFAULT_MIN_STAKE_USER, DEFAULT_MIN_STAKE_NODE, DEFAULT_MIN_STAKE_ADMIN],
        lockup_ms: vector[DEFAULT_LOCKUP_USER_MS, DEFAULT_LOCKUP_NODE_MS, DEFAULT_LOCKUP_ADMIN_MS],
        stakes: table::new(ctx),
        slashed_funds: balance::zero(),
        approved_admins: vec_set::singleton(ctx.sender()),
    };
    let cap = AdminCap { id: object::new(ctx), pool_id: object::id(&pool) };
    (pool, cap)
}

#[test_only]
public fun share_for_testing(pool: StakingPool) { transfer::share_object(pool) }

#[test_only]
public fun stake_deposited_for_testing(stake_id: ID, owner: address, role: u8, amount: u64, node_id: String): StakeDeposited {
    StakeDeposited { stake_id, owner, role, amount, node_id }
}

#[test_only]
public fun unstake_requested_for_testing(stake_id: ID, unlock_at_ms: u64): UnstakeRequested {
    UnstakeRequested { stake_id, unlock_at_ms }
}

#[test_only]
public fun stake_withdrawn_for_testing(stake_id: ID, amount: u64): StakeWithdrawn {
    StakeWithdrawn { stake_id, amount }
}

#[test_only]
public fun stake_slashed_for_testing(stake_id: ID, amount: u64, remaining: u64, reason: String): StakeSlashed {
    StakeSlashed { stake_id, amount, remaining, reason }
}

#[test_only]
public fun min_stake_changed_for_testing(role: u8, amount: u64): MinStakeChanged {
    MinStakeChanged { role, amount }
}

#[test_only]
public fun admin_approved_for_testing(admin: address): AdminApproved { AdminApproved { admin } }

#[test_only]
public fun admin_revoked_for_testing(admin: address): AdminRevoked { AdminRevoked { admin } }

#[test_only]
/// A receipt that names `pool` but that `pool` never issued (cannot exist on chain; tests the guard).
public fun forged_receipt_for_testing(pool: &StakingPool, ctx: &mut TxContext): StakeReceipt {
    StakeReceipt { id: object::new(ctx), pool_id: object::id(pool) }
}
