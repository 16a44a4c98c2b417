#[test_only]
module k3s_daas::seal_token_tests;

use k3s_daas::seal_token::{Self, SealToken};
use k3s_daas::staking::{Self, StakingPool, StakeReceipt, AdminCap};
use k3s_daas::staking_tests::{setup, stake_as};
use std::unit_test::{assert_eq, destroy};
use sui::bcs;
use sui::clock::Clock;
use sui::event;
use sui::test_scenario::{Self as ts, Scenario};

const ADMIN: address = @0xAD;
const ALICE: address = @0xA11CE;
const BOB: address = @0xB0B;
const SUI_MIST: u64 = 1_000_000_000;
const HOUR_MS: u64 = 3_600_000;

fun issue_as(sc: &mut Scenario, who: address, cluster_id: vector<u8>, ttl_ms: u64, clock: &Clock) {
    sc.next_tx(who);
    let pool = sc.take_shared<StakingPool>();
    let receipt = sc.take_from_sender<StakeReceipt>();
    seal_token::issue(&pool, &receipt, cluster_id.to_string(), ttl_ms, clock, sc.ctx());
    sc.return_to_sender(receipt);
    ts::return_shared(pool);
}

fun finish(sc: Scenario, clock: Clock) {
    clock.destroy_for_testing();
    sc.end();
}

#[test]
fun issue_sends_a_token_with_the_tier_permissions_to_the_caller() {
    let (mut sc, clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, SUI_MIST, 1, b"op-1", &clock);
    issue_as(&mut sc, BOB, b"prod-eu", 24 * HOUR_MS, &clock);
    let issued = event::events_by_type<seal_token::SealTokenIssued>();
    assert_eq!(issued.length(), 1);
    sc.next_tx(BOB);
    let token = sc.take_from_sender<SealToken>();
    let expected_permissions = vector[b"read".to_string(), b"node:write".to_string()];
    assert_eq!(issued[0], seal_token::sealtoken_issued_for_testing(
        object::id(&token), stake_id, BOB, 1, expected_permissions, b"prod-eu".to_string(), clock.timestamp_ms() + 24 * HOUR_MS,
    ));
    assert_eq!(seal_token::stake_id(&token), stake_id);
    assert_eq!(seal_token::owner(&token), BOB);
    assert_eq!(seal_token::role(&token), 1);
    assert_eq!(seal_token::permissions(&token), expected_permissions);
    assert_eq!(seal_token::cluster_id(&token), b"prod-eu".to_string());
    assert_eq!(seal_token::issued_at_ms(&token), clock.timestamp_ms());
    assert_eq!(seal_token::expires_at_ms(&token), clock.timestamp_ms() + 24 * HOUR_MS);
    assert!(!seal_token::is_expired(&token, &clock));
    sc.return_to_sender(token);
    finish(sc, clock);
}

#[test]
fun tokens_expire_at_expires_at_ms() {
    let (mut sc, mut clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    issue_as(&mut sc, ALICE, b"c", 1, &clock);
    sc.next_tx(ALICE);
    let token = sc.take_from_sender<SealToken>();
    clock.increment_for_testing(1);
    assert!(seal_token::is_expired(&token, &clock));
    sc.return_to_sender(token);
    finish(sc, clock);
}

#[test]
fun permissions_follow_the_stake_tier() {
    assert_eq!(seal_token::tier_permissions(0), vector[b"read".to_string()]);
    assert_eq!(seal_token::tier_permissions(1), vector[b"read".to_string(), b"node:write".to_string()]);
    assert_eq!(
        seal_token::tier_permissions(2),
        vector[b"read".to_string(), b"write".to_string(), b"node:write".to_string(), b"admin".to_string()],
    );
    assert_eq!(seal_token::tier_permissions(3), vector[]);
}

#[test]
fun an_admin_stake_issues_an_admin_token() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ADMIN, 10 * SUI_MIST, 2, b"", &clock);
    issue_as(&mut sc, ADMIN, b"c", HOUR_MS, &clock);
    sc.next_tx(ADMIN);
    let token = sc.take_from_sender<SealToken>();
    assert_eq!(seal_token::role(&token), 2);
    assert!(seal_token::permissions(&token).contains(&b"admin".to_string()));
    sc.return_to_sender(token);
    finish(sc, clock);
}

#[test]
fun sealtoken_issued_bcs_matches_the_typescript_event_schema() {
    // Same bytes as test/lambdas/shared/sui/events.test.ts "SealTokenIssued matches the Move BCS fixture".
    let event = seal_token::sealtoken_issued_for_testing(
        object::id_from_address(@0x3333333333333333333333333333333333333333333333333333333333333333),
        object::id_from_address(@0x1111111111111111111111111111111111111111111111111111111111111111),
        @0x2222222222222222222222222222222222222222222222222222222222222222,
        0,
        vector[b"read".to_string()],
        b"dev".to_string(),
        1_700_000_000_000,
    );
    let mut expected = x"3333333333333333333333333333333333333333333333333333333333333333";
    expected.append(x"1111111111111111111111111111111111111111111111111111111111111111");
    expected.append(x"2222222222222222222222222222222222222222222222222222222222222222");
    expected.append(x"00");
    expected.append(x"010472656164");
    expected.append(x"03646576");
    expected.append(x"0068e5cf8b010000");
    assert_eq!(bcs::to_bytes(&event), expected);
}

#[test]
fun revoke_burns_the_token_and_emits_sealtoken_revoked() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    issue_as(&mut sc, ALICE, b"c", HOUR_MS, &clock);
    sc.next_tx(ALICE);
    let token = sc.take_from_sender<SealToken>();
    let token_id = object::id(&token);
    seal_token::revoke(token);
    assert_eq!(event::events_by_type<seal_token::SealTokenRevoked>()[0], seal_token::sealtoken_revoked_for_testing(token_id));
    let effects = sc.next_tx(ALICE);
    assert!(effects.deleted().contains(&token_id));
    assert!(!ts::has_most_recent_for_sender<SealToken>(&sc));
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EInvalidTtl)]
fun issue_with_zero_ttl_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    issue_as(&mut sc, ALICE, b"c", 0, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EInvalidTtl)]
fun issue_with_a_ttl_beyond_a_year_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    issue_as(&mut sc, ALICE, b"c", 365 * 24 * HOUR_MS + 1, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EInvalidClusterId)]
fun issue_with_an_empty_cluster_id_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    issue_as(&mut sc, ALICE, b"", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EInvalidClusterId)]
fun issue_with_a_cluster_id_over_64_bytes_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    issue_as(&mut sc, ALICE, b"01234567890123456789012345678901234567890123456789012345678901234", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EStakeNotActive)]
fun issue_on_an_unbonding_stake_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let receipt = sc.take_from_sender<StakeReceipt>();
        staking::request_unstake(&mut pool, &receipt, &clock);
        sc.return_to_sender(receipt);
        ts::return_shared(pool);
    };
    issue_as(&mut sc, ALICE, b"c", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EStakeSlashed)]
fun issue_on_a_slashed_stake_aborts() {
    let (mut sc, clock) = setup();
    let stake_id = stake_as(&mut sc, BOB, 5 * SUI_MIST, 1, b"n", &clock);
    sc.next_tx(ADMIN);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let cap = sc.take_from_sender<AdminCap>();
        // Still above the node minimum afterwards: the slash alone disqualifies it.
        staking::slash(&cap, &mut pool, stake_id, 1, b"misbehaved".to_string(), &clock);
        sc.return_to_sender(cap);
        ts::return_shared(pool);
    };
    issue_as(&mut sc, BOB, b"c", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EInsufficientStake)]
fun issue_on_a_stake_below_a_raised_minimum_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ADMIN);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let cap = sc.take_from_sender<AdminCap>();
        staking::set_min_stake(&cap, &mut pool, 0, SUI_MIST + 1);
        sc.return_to_sender(cap);
        ts::return_shared(pool);
    };
    issue_as(&mut sc, ALICE, b"c", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EForeignReceipt)]
fun issue_with_a_receipt_of_another_pool_aborts() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let (other, cap) = staking::new_pool_for_testing(sc.ctx());
    let receipt = sc.take_from_sender<StakeReceipt>();
    seal_token::issue(&other, &receipt, b"c".to_string(), HOUR_MS, &clock, sc.ctx());
    sc.return_to_sender(receipt);
    destroy(other);
    destroy(cap);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::EForeignReceipt)]
fun issue_with_a_receipt_its_pool_never_issued_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ALICE);
    let pool = sc.take_shared<StakingPool>();
    let receipt = staking::forged_receipt_for_testing(&pool, sc.ctx());
    seal_token::issue(&pool, &receipt, b"c".to_string(), HOUR_MS, &clock, sc.ctx());
    destroy(receipt);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::ENotApprovedAdmin)]
fun an_admin_token_needs_an_approved_admin_at_issue_time() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ADMIN, 10 * SUI_MIST, 2, b"", &clock);
    sc.next_tx(ADMIN);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let cap = sc.take_from_sender<AdminCap>();
        staking::revoke_admin(&cap, &mut pool, ADMIN);
        sc.return_to_sender(cap);
        ts::return_shared(pool);
    };
    issue_as(&mut sc, ADMIN, b"c", HOUR_MS, &clock);
    finish(sc, clock);
}

// === only the stake's owner issues (issue 12 item 8) ===

#[test, expected_failure(abort_code = seal_token::ENotStakeOwner)]
fun a_receipt_handed_to_someone_else_cannot_back_their_token() {
    // The attack: Alice stakes 0.1 SUI once and hands the receipt to Bob so he gets a token too.
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let receipt = sc.take_from_sender<StakeReceipt>();
    transfer::public_transfer(receipt, BOB);
    issue_as(&mut sc, BOB, b"c", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::ENotStakeOwner)]
fun a_shared_receipt_cannot_back_anyone_elses_token() {
    // Only a receipt created in the same transaction can be shared (Sui refuses to share an older object).
    let (mut sc, clock) = setup();
    sc.next_tx(ALICE);
    {
        let mut pool = sc.take_shared<StakingPool>();
        let payment = sui::coin::mint_for_testing<sui::sui::SUI>(SUI_MIST, sc.ctx());
        let receipt = staking::stake(&mut pool, payment, 1, b"op".to_string(), &clock, sc.ctx());
        transfer::public_share_object(receipt);
        ts::return_shared(pool);
    };
    sc.next_tx(BOB);
    let pool = sc.take_shared<StakingPool>();
    let shared = sc.take_shared<StakeReceipt>();
    seal_token::issue(&pool, &shared, b"c".to_string(), HOUR_MS, &clock, sc.ctx());
    ts::return_shared(shared);
    ts::return_shared(pool);
    finish(sc, clock);
}

#[test]
fun the_owner_still_issues_after_getting_the_receipt_back() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ALICE, SUI_MIST, 0, b"", &clock);
    sc.next_tx(ALICE);
    let receipt = sc.take_from_sender<StakeReceipt>();
    transfer::public_transfer(receipt, BOB);
    sc.next_tx(BOB);
    let receipt = sc.take_from_sender<StakeReceipt>();
    transfer::public_transfer(receipt, ALICE);
    issue_as(&mut sc, ALICE, b"c", HOUR_MS, &clock);
    sc.next_tx(ALICE);
    let token = sc.take_from_sender<SealToken>();
    assert_eq!(seal_token::owner(&token), ALICE);
    sc.return_to_sender(token);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = seal_token::ENotStakeOwner)]
fun a_transferred_admin_receipt_cannot_issue_for_an_unapproved_holder() {
    let (mut sc, clock) = setup();
    stake_as(&mut sc, ADMIN, 10 * SUI_MIST, 2, b"", &clock);
    sc.next_tx(ADMIN);
    let receipt = sc.take_from_sender<StakeReceipt>();
    transfer::public_transfer(receipt, ALICE);
    issue_as(&mut sc, ALICE, b"c", HOUR_MS, &clock);
    finish(sc, clock);
}

#[test]
fun sealtoken_object_bcs_matches_the_typescript_object_schema() {
    // After the 32-byte id, the same bytes as test/lambdas/shared/sui/objects.test.ts.
    let mut ctx = tx_context::dummy();
    let token = seal_token::new_for_testing(
        object::id_from_address(@0x1111111111111111111111111111111111111111111111111111111111111111),
        @0x2222222222222222222222222222222222222222222222222222222222222222,
        1,
        vector[b"read".to_string(), b"node:write".to_string()],
        b"dev".to_string(),
        1_000,
        2_000,
        &mut ctx,
    );
    let mut expected = object::id(&token).to_bytes();
    expected.append(x"1111111111111111111111111111111111111111111111111111111111111111");
    expected.append(x"2222222222222222222222222222222222222222222222222222222222222222");
    expected.append(x"010204726561640a6e6f64653a777269746503646576e803000000000000d007000000000000");
    assert_eq!(bcs::to_bytes(&token), expected);
    destroy(token);
}
