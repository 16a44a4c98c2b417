#[test_only]
module k3s_daas::staking_tests;

use k3s_daas::staking::{Self, StakingPool, StakeReceipt, AdminCap};
use std::unit_test::{assert_eq, destroy};
use sui::bcs;
use sui::clock::{Self, Clock};
use sui::coin::{Self, Coin};
use sui::event;
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

const ADMIN: address = @0xAD;
const ALICE: address = @0xA11CE;
const BOB: address = @0xB0B;
const START_MS: u64 = 1_700_000_000_000;
const SUI_MIST: u64 = 1_000_000_000;

public fun setup(): (Scenario, Clock) {
    let mut sc = ts::begin(ADMIN);
    staking::init_for_testing(sc.ctx());
    let mut clock = clock::create_for_testing(sc.ctx());
    clock.set_for_testing(START_MS);
    sc.next_tx(ADMIN);
    (sc, clock)
}

/// `who` stakes `amount` MIST as `role`; the receipt goes to `who`. Returns the stake id.
public fun stake_as(sc: &mut Scenario, who: address, amount: u64, role: u8, node_id: vector<u8>, clock: &Clock): ID {
    sc.next_tx(who);
    let mut pool = sc.take_shared<StakingPool>();
    let payment = coin::mint_for_testing<SUI>(amount, sc.ctx());
    let receipt = staking::stake(&mut pool, payment, role, node_id.to_string(), clock, sc.ctx());
    let id = object::id(&receipt);
    transfer::public_transfer(receipt, who);
    ts::return_shared(pool);
    id
}

fun unstake_as(sc: &mut Scenario, who: address, clock: &Clock) {
    sc.next_tx(who);
    let mut pool = sc.take_shared<StakingPool>();
    let receipt = sc.take_from_sender<StakeReceipt>();
    staking::request_unstake(&mut pool, &receipt, clock);
    sc.return_to_sender(receipt);
    ts::return_shared(pool);
}

fun withdraw_as(sc: &mut Scenario, who: address, clock: &Clock): u64 {
    sc.next_tx(who);
    let mut pool = sc.take_shared<StakingPool>();
    let receipt = sc.take_from_sender<StakeReceipt>();
    let coin = staking::withdraw(&mut pool, &receipt, clock, sc.ctx());
    let value = coin.value();
    transfer::public_transfer(coin, who);
    sc.return_to_sender(receipt);
    ts::return_shared(pool);
    value
}

fun slash_as_admin(sc: &mut Scenario, stake_id: ID, amount: u64, clock: &Clock) {
    sc.next_tx(ADMIN);
    let mut pool = sc.take_shared<StakingPool>();
    let cap = sc.take_from_sender<AdminCap>();
    staking::slash(&cap, &mut pool, stake_id, amount, b"double signing".to_string(), clock);
    sc.return_to_sender(cap);
    ts::return_shared(pool);
}

fun finish(sc: Scenario, clock: Clock) {
    clock.destroy_for_testing();
    sc.end();
}

// === init ===

#[test]
fun init_shares_a_pool_with_the_default_minimums_and_gives_the_cap_to_the_publisher() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let pool = sc.take_shared<StakingPool>();
    let cap = sc.take_from_sender<AdminCap>();
    assert_eq!(staking::min_stake(&pool, 0), 100_000_000);
    assert_eq!(staking::min_stake(&pool, 1), 1_000_000_000);
    assert_eq!(staking::min_stake(&pool, 2), 10_000_000_000);
    assert_eq!(staking::lockup_ms(&pool, 0), 86_400_000);
    assert_eq!(staking::lockup_ms(&pool, 1), 604_800_000);
    assert_eq!(staking::lockup_ms(&pool, 2), 1_209_600_000);
    assert_eq!(staking::slashed_funds(&pool), 0);
    assert_eq!(staking::role_user(), 0);
    assert_eq!(staking::role_node(), 1);
    assert_eq!(staking::role_admin(), 2);
    assert!(staking::is_valid_role(2) && !staking::is_valid_role(3));
    sc.return_to_sender(cap);
    ts::return_shared(pool);
    finish(sc, clock);
}

// === stake ===

#[test]
fun stake_locks_the_coin_in_the_pool_and_emits_stake_deposited() {
    let (mut sc, clock) = setup();
    sc.next_tx(BOB);
    let mut pool = sc.take_shared<StakingPool>();
    let payment = coin::mint_for_testing<SUI>(2 * SUI_MIST, sc.ctx());
    let receipt = staking::stake(&mut pool, payment, 1, b"node-operator-7".to_string(), &clock, sc.ctx());
    let stake_id = object::id(&receipt);
    let events = event::events_by_type<staking::StakeDeposited>();
    assert_eq!(events.length(), 1);
    assert_eq!(events[0], staking::stake_deposited_for_testing(stake_id, BOB, 1, 2 * SUI_MIST, b"node-operator-7".to_string()));
    assert_eq!(staking::receipt_pool_id(&receipt), object::id(&pool));
    assert!(staking::has_stake(&pool, stake_id));
    assert_eq!(staking::stake_owner(&pool, &receipt), BOB);
    assert_eq!(staking::stake_role(&pool, &receipt), 1);
    assert_eq!(staking::stake_amount(&pool, &receipt), 2 * SUI_MIST);
    assert_eq!(staking::stake_node_id(&pool, &receipt), b"node-operator-7".to_string());
    assert_eq!(staking::stake_status(&pool, &receipt), staking::status_active());
    assert!(!staking::stake_is_slashed(&pool, &receipt));
    assert_eq!(staking::stake_staked_at_ms(&pool, &receipt), START_MS);
    assert_eq!(staking::stake_unlock_at_ms(&pool, &receipt), 0);
    transfer::public_transfer(receipt, BOB);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test]
fun stake_deposited_bcs_matches_the_typescript_event_schema() {
    // Same bytes as test/lambdas/shared/sui/events.test.ts "StakeDeposited matches the Move BCS fixture".
    let event = staking::stake_deposited_for_testing(
        object::id_from_address(@0x1111111111111111111111111111111111111111111111111111111111111111),
        @0x2222222222222222222222222222222222222222222222222222222222222222,
        1,
        1_000_000_000,
        b"n1".to_string(),
    );
    let mut expected = x"1111111111111111111111111111111111111111111111111111111111111111";
    expected.append(x"2222222222222222222222222222222222222222222222222222222222222222");
    expected.append(x"01" );
    expected.append(x"00ca9a3b00000000");
    expected.append(x"026e31");
    assert_eq!(bcs::to_bytes(&event), expected);
}

#[test]
fun stake_accepts_exactly_the_minimum_of_every_role() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, 100_000_000, 0, b"", &clock);
    stake_as(&mut sc, BOB, 1_000_000_000, 1, b"n", &clock);
    stake_as(&mut sc, ADMIN, 10_000_000_000, 2, b"", &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EStakeBelowMinimum)]
fun stake_below_the_user_minimum_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, 99_999_999, 0, b"", &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EStakeBelowMinimum)]
fun stake_below_the_node_minimum_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, BOB, 999_999_999, 1, b"n", &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EStakeBelowMinimum)]
fun stake_below_the_admin_minimum_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ADMIN, 9_999_999_999, 2, b"", &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EInvalidRole)]
fun stake_with_an_unknown_role_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, 100 * SUI_MIST, 3, b"", &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EInvalidNodeId)]
fun node_stake_without_a_node_id_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, BOB, SUI_MIST, 1, b"", &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EInvalidNodeId)]
fun user_stake_with_a_node_id_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"n", &clock);
    finish(sc, clock);
}

// === request_unstake / withdraw ===

#[test]
fun unstake_then_withdraw_after_the_lockup_returns_the_whole_stake() {
    let (mut sc, mut clock) = setup();
    let stake_id = stake_as(&mut sc, ALICE, 3 * SUI_MIST, 0, b"", &clock);
    unstake_as(&mut sc, ALICE, &clock);
    assert_eq!(event::events_by_type<staking::UnstakeRequested>()[0], staking::unstake_requested_for_testing(stake_id, START_MS + 86_400_000));
    sc.next_tx(ALICE);
    {
        let pool = sc.take_shared<StakingPool>();
        let receipt = sc.take_from_sender<StakeReceipt>();
        assert_eq!(staking::stake_status(&pool, &receipt), staking::status_unbonding());
        assert_eq!(staking::stake_unlock_at_ms(&pool, &receipt), START_MS + 86_400_000);
        sc.return_to_sender(receipt);
        ts::return_shared(pool);
    };
    clock.set_for_testing(START_MS + 86_400_000);
    assert_eq!(withdraw_as(&mut sc, ALICE, &clock), 3 * SUI_MIST);
    assert_eq!(event::events_by_type<staking::StakeWithdrawn>()[0], staking::stake_withdrawn_for_testing(stake_id, 3 * SUI_MIST));
    sc.next_tx(ALICE);
    let coin = sc.take_from_sender<Coin<SUI>>();
    assert_eq!(coin.value(), 3 * SUI_MIST);
    destroy(coin);
    let pool = sc.take_shared<StakingPool>();
    let receipt = sc.take_from_sender<StakeReceipt>();
    assert_eq!(staking::stake_status(&pool, &receipt), staking::status_withdrawn());
    assert_eq!(staking::stake_amount(&pool, &receipt), 0);
    staking::destroy_receipt(&pool, receipt);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EAlreadyUnbonding)]
fun request_unstake_twice_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    unstake_as(&mut sc, ALICE, &clock);
    unstake_as(&mut sc, ALICE, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EAlreadyWithdrawn)]
fun request_unstake_after_withdraw_aborts() {
    let (mut sc, mut clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    unstake_as(&mut sc, ALICE, &clock);
    clock.increment_for_testing(86_400_000);
    withdraw_as(&mut sc, ALICE, &clock);
    unstake_as(&mut sc, ALICE, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::ENotUnbonding)]
fun withdraw_without_request_unstake_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    withdraw_as(&mut sc, ALICE, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::ELockupNotOver)]
fun withdraw_one_millisecond_before_the_lockup_ends_aborts() {
    let (mut sc, mut clock) = setup();
    stake_as(&mut sc, BOB, SUI_MIST, 1, b"n", &clock);
    unstake_as(&mut sc, BOB, &clock);
    clock.increment_for_testing(604_800_000 - 1);
    withdraw_as(&mut sc, BOB, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EAlreadyWithdrawn)]
fun double_withdraw_aborts() {
    let (mut sc, mut clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    unstake_as(&mut sc, ALICE, &clock);
    clock.increment_for_testing(86_400_000);
    withdraw_as(&mut sc, ALICE, &clock);
    withdraw_as(&mut sc, ALICE, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun request_unstake_with_a_receipt_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let (mut other, cap) = staking::new_pool_for_testing(sc.ctx());
    let receipt = sc.take_from_sender<StakeReceipt>();
    staking::request_unstake(&mut other, &receipt, &clock);
    abort_cleanup(sc, clock, other, cap, receipt);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun withdraw_with_a_receipt_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let (mut other, cap) = staking::new_pool_for_testing(sc.ctx());
    let receipt = sc.take_from_sender<StakeReceipt>();
    destroy(staking::withdraw(&mut other, &receipt, &clock, sc.ctx()));
    abort_cleanup(sc, clock, other, cap, receipt);
}

#[test, expected_failure(abort_code = staking::EUnknownStake)]
fun a_receipt_unknown_to_its_pool_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ALICE);
    let mut pool = sc.take_shared<StakingPool>();
    let receipt = staking::forged_receipt_for_testing(&pool, sc.ctx());
    staking::request_unstake(&mut pool, &receipt, &clock);
    ts::return_shared(pool);
    destroy(receipt);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::ENotWithdrawn)]
fun destroying_the_receipt_of_a_live_stake_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let pool = sc.take_shared<StakingPool>();
    let receipt = sc.take_from_sender<StakeReceipt>();
    staking::destroy_receipt(&pool, receipt);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun destroying_a_receipt_against_another_pool_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let (other, cap) = staking::new_pool_for_testing(sc.ctx());
    let receipt = sc.take_from_sender<StakeReceipt>();
    staking::destroy_receipt(&other, receipt);
    destroy(other);
    destroy(cap);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EUnknownStake)]
fun destroying_a_receipt_unknown_to_its_pool_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ALICE);
    let pool = sc.take_shared<StakingPool>();
    let receipt = staking::forged_receipt_for_testing(&pool, sc.ctx());
    staking::destroy_receipt(&pool, receipt);
    ts::return_shared(pool);
    finish(sc, clock);
}

fun abort_cleanup(sc: Scenario, clock: Clock, pool: StakingPool, cap: AdminCap, receipt: StakeReceipt) {
    destroy(pool);
    destroy(cap);
    destroy(receipt);
    finish(sc, clock);
}

// === slash / collect_slashed ===

#[test]
fun slash_takes_the_amount_into_the_pool_and_marks_the_stake_slashed() {
    let (mut sc, mut clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, 5 * SUI_MIST, 1, b"n", &clock);
    slash_as_admin(&mut sc, stake_id, 2 * SUI_MIST, &clock);
    assert_eq!(
        event::events_by_type<staking::StakeSlashed>()[0],
        staking::stake_slashed_for_testing(stake_id, 2 * SUI_MIST, 3 * SUI_MIST, b"double signing".to_string()),
    );
    sc.next_tx(BOB);
    {
        let pool = sc.take_shared<StakingPool>();
        let receipt = sc.take_from_sender<StakeReceipt>();
        assert!(staking::stake_is_slashed(&pool, &receipt));
        assert_eq!(staking::stake_amount(&pool, &receipt), 3 * SUI_MIST);
        assert_eq!(staking::slashed_funds(&pool), 2 * SUI_MIST);
        sc.return_to_sender(receipt);
        ts::return_shared(pool);
    };
    // The owner still gets the rest back after the lock-up.
    unstake_as(&mut sc, BOB, &clock);
    clock.increment_for_testing(604_800_000);
    assert_eq!(withdraw_as(&mut sc, BOB, &clock), 3 * SUI_MIST);
    // The admin collects the slashed funds.
    sc.next_tx(ADMIN);
    let mut pool = sc.take_shared<StakingPool>();
    let cap = sc.take_from_sender<AdminCap>();
    let collected = staking::collect_slashed(&cap, &mut pool, 2 * SUI_MIST, sc.ctx());
    assert_eq!(collected.value(), 2 * SUI_MIST);
    assert_eq!(staking::slashed_funds(&pool), 0);
    destroy(collected);
    sc.return_to_sender(cap);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test]
fun slash_reaches_an_unbonding_stake_during_its_lockup() {
    let (mut sc, mut clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, 2 * SUI_MIST, 1, b"n", &clock);
    unstake_as(&mut sc, BOB, &clock);
    slash_as_admin(&mut sc, stake_id, 2 * SUI_MIST, &clock);
    clock.increment_for_testing(604_800_000);
    assert_eq!(withdraw_as(&mut sc, BOB, &clock), 0);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EZeroSlash)]
fun slash_of_zero_aborts() {
    let (mut sc, clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, SUI_MIST, 1, b"n", &clock);
    slash_as_admin(&mut sc, stake_id, 0, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::ESlashExceedsStake)]
fun slash_beyond_the_stake_aborts() {
    let (mut sc, clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, SUI_MIST, 1, b"n", &clock);
    slash_as_admin(&mut sc, stake_id, SUI_MIST + 1, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EUnknownStake)]
fun slash_of_an_unknown_stake_aborts() {
    let (mut sc, clock) = setup();
    slash_as_admin(&mut sc, object::id_from_address(@0x1234), 1, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EAlreadyWithdrawn)]
fun slash_of_a_withdrawn_stake_aborts() {
    let (mut sc, mut clock) = setup();
    let stake_id = stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    unstake_as(&mut sc, ALICE, &clock);
    clock.increment_for_testing(86_400_000);
    withdraw_as(&mut sc, ALICE, &clock);
    slash_as_admin(&mut sc, stake_id, 1, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun slash_with_the_cap_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, SUI_MIST, 1, b"n", &clock);
    sc.next_tx(ADMIN);
    let (other, foreign_cap) = staking::new_pool_for_testing(sc.ctx());
    let mut pool = sc.take_shared<StakingPool>();
    staking::slash(&foreign_cap, &mut pool, stake_id, 1, b"x".to_string(), &clock);
    ts::return_shared(pool);
    destroy(other);
    destroy(foreign_cap);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::ENothingSlashed)]
fun collecting_more_than_was_slashed_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let mut pool = sc.take_shared<StakingPool>();
    let cap = sc.take_from_sender<AdminCap>();
    destroy(staking::collect_slashed(&cap, &mut pool, 1, sc.ctx()));
    sc.return_to_sender(cap);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun collect_slashed_with_the_cap_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let (other, foreign_cap) = staking::new_pool_for_testing(sc.ctx());
    let mut pool = sc.take_shared<StakingPool>();
    destroy(staking::collect_slashed(&foreign_cap, &mut pool, 0, sc.ctx()));
    ts::return_shared(pool);
    destroy(other);
    destroy(foreign_cap);
    finish(sc, clock);
}

// === set_min_stake / set_lockup ===

#[test]
fun the_admin_can_change_minimums_and_lockups() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let cap = sc.take_from_sender<AdminCap>();
        staking::set_min_stake(&cap, &mut pool, 0, 5 * SUI_MIST);
        staking::set_lockup(&cap, &mut pool, 0, 0);
        assert_eq!(staking::min_stake(&pool, 0), 5 * SUI_MIST);
        assert_eq!(staking::lockup_ms(&pool, 0), 0);
        sc.return_to_sender(cap);
        ts::return_shared(pool);
    };
    stake_as(&mut sc, ALICE, 5 * SUI_MIST, 0, b"", &clock);
    unstake_as(&mut sc, ALICE, &clock);
    // Zero lock-up: withdrawable in the same millisecond.
    assert_eq!(withdraw_as(&mut sc, ALICE, &clock), 5 * SUI_MIST);
    finish(sc, clock);
}

#[test]
fun set_min_stake_emits_min_stake_changed_with_the_role_and_amount() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let cap = sc.take_from_sender<AdminCap>();
        staking::set_min_stake(&cap, &mut pool, 1, 3 * SUI_MIST);
        staking::set_min_stake(&cap, &mut pool, 2, 7);
        let events = event::events_by_type<staking::MinStakeChanged>();
        assert_eq!(events.length(), 2);
        assert_eq!(events[0], staking::min_stake_changed_for_testing(1, 3 * SUI_MIST));
        assert_eq!(events[1], staking::min_stake_changed_for_testing(2, 7));
        sc.return_to_sender(cap);
        ts::return_shared(pool);
    };
    finish(sc, clock);
}

#[test]
fun set_lockup_emits_no_min_stake_changed() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let cap = sc.take_from_sender<AdminCap>();
        staking::set_lockup(&cap, &mut pool, 1, 0);
        assert_eq!(event::events_by_type<staking::MinStakeChanged>().length(), 0);
        sc.return_to_sender(cap);
        ts::return_shared(pool);
    };
    finish(sc, clock);
}

#[test]
fun min_stake_changed_bcs_matches_the_typescript_event_schema() {
    // Same bytes as test/lambdas/shared/sui/events.test.ts "MinStakeChanged matches the Move BCS fixture".
    let event = staking::min_stake_changed_for_testing(1, 2_000_000_000);
    assert_eq!(bcs::to_bytes(&event), x"010094357700000000");
}

#[test, expected_failure(abort_code = staking::EStakeBelowMinimum)]
fun a_raised_minimum_applies_to_new_stakes() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let mut pool = sc.take_shared<StakingPool>();
    let cap = sc.take_from_sender<AdminCap>();
    staking::set_min_stake(&cap, &mut pool, 0, 5 * SUI_MIST);
    sc.return_to_sender(cap);
    ts::return_shared(pool);
    stake_as(&mut sc, ALICE, 5 * SUI_MIST - 1, 0, b"", &clock);
    finish(sc, clock);
}

fun admin_call(min_role: u8, min_amount: u64, lock_role: u8, lock_ms: u64, foreign: bool) {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let mut pool = sc.take_shared<StakingPool>();
    let (other, foreign_cap) = staking::new_pool_for_testing(sc.ctx());
    let cap = sc.take_from_sender<AdminCap>();
    let used = if (foreign) &foreign_cap else &cap;
    staking::set_min_stake(used, &mut pool, min_role, min_amount);
    staking::set_lockup(used, &mut pool, lock_role, lock_ms);
    sc.return_to_sender(cap);
    ts::return_shared(pool);
    destroy(other);
    destroy(foreign_cap);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EInvalidRole)]
fun set_min_stake_of_an_unknown_role_aborts() { admin_call(3, 1, 0, 0, false) }

#[test, expected_failure(abort_code = staking::EZeroMinimum)]
fun set_min_stake_to_zero_aborts() { admin_call(0, 0, 0, 0, false) }

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun set_min_stake_with_the_cap_of_another_pool_aborts() { admin_call(0, 1, 0, 0, true) }

#[test, expected_failure(abort_code = staking::EInvalidRole)]
fun set_lockup_of_an_unknown_role_aborts() { admin_call(0, 1, 3, 0, false) }

#[test, expected_failure(abort_code = staking::EInvalidLockup)]
fun set_lockup_beyond_a_year_aborts() { admin_call(0, 1, 0, 365 * 86_400_000 + 1, false) }

#[test]
fun set_lockup_of_exactly_a_year_is_accepted() { admin_call(2, 1, 2, 365 * 86_400_000, false) }

#[test, expected_failure(abort_code = staking::EInvalidRole)]
fun min_stake_of_an_unknown_role_aborts() {
    let (mut sc, clock) = setup();
    let pool = sc.take_shared<StakingPool>();
    staking::min_stake(&pool, 7);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EInvalidRole)]
fun lockup_of_an_unknown_role_aborts() {
    let (mut sc, clock) = setup();
    let pool = sc.take_shared<StakingPool>();
    staking::lockup_ms(&pool, 7);
    ts::return_shared(pool);
    finish(sc, clock);
}

// === approve_admin / revoke_admin ===

#[test, expected_failure(abort_code = staking::ENotApprovedAdmin)]
fun an_admin_stake_from_an_unapproved_address_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, 10 * SUI_MIST, 2, b"", &clock);
    finish(sc, clock);
}

macro fun with_cap($sc: &mut Scenario, $f: |&AdminCap, &mut StakingPool|) {
    let sc = $sc;
    sc.next_tx(ADMIN);
    let mut pool = sc.take_shared<StakingPool>();
    let cap = sc.take_from_sender<AdminCap>();
    $f(&cap, &mut pool);
    sc.return_to_sender(cap);
    ts::return_shared(pool);
}

#[test]
fun an_approved_address_can_stake_as_admin_until_revoked() {
    let (mut sc, clock) = setup();
    with_cap!(&mut sc, |cap, pool| {
        assert!(staking::is_approved_admin(pool, ADMIN));
        assert!(!staking::is_approved_admin(pool, ALICE));
        staking::approve_admin(cap, pool, ALICE);
        assert!(staking::is_approved_admin(pool, ALICE));
    });
    stake_as(&mut sc, ALICE, 10 * SUI_MIST, 2, b"", &clock);
    with_cap!(&mut sc, |cap, pool| {
        staking::revoke_admin(cap, pool, ALICE);
        assert!(!staking::is_approved_admin(pool, ALICE));
    });
    finish(sc, clock);
}

#[test]
fun publishing_announces_the_publisher_as_an_approved_admin() {
    let mut sc = ts::begin(ADMIN);
    staking::init_for_testing(sc.ctx());
    assert_eq!(event::events_by_type<staking::AdminApproved>(), vector[staking::admin_approved_for_testing(ADMIN)]);
    sc.end();
}

#[test]
fun approve_admin_and_revoke_admin_each_emit_an_event() {
    let (mut sc, clock) = setup();
    with_cap!(&mut sc, |cap, pool| {
        staking::approve_admin(cap, pool, ALICE);
        assert_eq!(event::events_by_type<staking::AdminApproved>(), vector[staking::admin_approved_for_testing(ALICE)]);
        assert_eq!(event::events_by_type<staking::AdminRevoked>(), vector[]);
    });
    with_cap!(&mut sc, |cap, pool| {
        staking::revoke_admin(cap, pool, ALICE);
        assert_eq!(event::events_by_type<staking::AdminRevoked>(), vector[staking::admin_revoked_for_testing(ALICE)]);
        assert_eq!(event::events_by_type<staking::AdminApproved>(), vector[]);
    });
    finish(sc, clock);
}

#[test]
fun admin_events_bcs_match_the_typescript_event_schema() {
    // Same bytes as test/lambdas/shared/sui/events.test.ts "AdminApproved/AdminRevoked match the Move BCS fixture".
    let admin = @0x2222222222222222222222222222222222222222222222222222222222222222;
    let expected = x"2222222222222222222222222222222222222222222222222222222222222222";
    assert_eq!(bcs::to_bytes(&staking::admin_approved_for_testing(admin)), expected);
    assert_eq!(bcs::to_bytes(&staking::admin_revoked_for_testing(admin)), expected);
}

#[test, expected_failure(abort_code = staking::EAlreadyApprovedAdmin)]
fun approving_an_approved_admin_twice_aborts() {
    let (mut sc, clock) = setup();
    with_cap!(&mut sc, |cap, pool| staking::approve_admin(cap, pool, ADMIN));
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::ENotApprovedAdmin)]
fun revoking_an_address_that_is_not_an_admin_aborts() {
    let (mut sc, clock) = setup();
    with_cap!(&mut sc, |cap, pool| staking::revoke_admin(cap, pool, BOB));
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun approve_admin_with_the_cap_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let (other, foreign_cap) = staking::new_pool_for_testing(sc.ctx());
    let mut pool = sc.take_shared<StakingPool>();
    staking::approve_admin(&foreign_cap, &mut pool, BOB);
    ts::return_shared(pool);
    destroy(other);
    destroy(foreign_cap);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = staking::EWrongPool)]
fun revoke_admin_with_the_cap_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let (other, foreign_cap) = staking::new_pool_for_testing(sc.ctx());
    let mut pool = sc.take_shared<StakingPool>();
    staking::revoke_admin(&foreign_cap, &mut pool, ADMIN);
    ts::return_shared(pool);
    destroy(other);
    destroy(foreign_cap);
    finish(sc, clock);
}
