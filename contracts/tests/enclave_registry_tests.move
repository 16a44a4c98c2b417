#[test_only]
module k3s_daas::enclave_registry_tests;

use k3s_daas::enclave_registry::{Self, EnclaveRegistry};
use k3s_daas::staking::{Self, AdminCap};
use std::unit_test::assert_eq;
use sui::bcs;
use sui::clock::{Self, Clock};
use sui::event;
use sui::test_scenario::{Self as ts, Scenario};

const ADMIN: address = @0xAD;
const HOST: address = @0x405;
const NOW_MS: u64 = 1_700_000_000_000;

fun pcr(byte: u8): vector<u8> { vector::tabulate!(48, |_| byte) }

fun setup(): (Scenario, Clock) {
    let mut sc = ts::begin(ADMIN);
    staking::init_for_testing(sc.ctx());
    enclave_registry::init_for_testing(sc.ctx());
    let mut clock = clock::create_for_testing(sc.ctx());
    clock.set_for_testing(NOW_MS);
    sc.next_tx(ADMIN);
    (sc, clock)
}

fun set_pcrs(sc: &mut Scenario, cluster: vector<u8>, indices: vector<u8>, values: vector<vector<u8>>) {
    sc.next_tx(ADMIN);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    let cap = sc.take_from_sender<AdminCap>();
    enclave_registry::set_expected_pcrs(&cap, &mut registry, cluster.to_string(), indices, values);
    sc.return_to_sender(cap);
    ts::return_shared(registry);
}

const USER_DATA: vector<u8> = x"c0ffee";

/// The admin opens the cluster's registration for `user_data`; returns the registry's nonce.
fun open(sc: &mut Scenario, cluster: vector<u8>, user_data: vector<u8>): vector<u8> {
    sc.next_tx(ADMIN);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    let cap = sc.take_from_sender<AdminCap>();
    let nonce = enclave_registry::open_registration(&cap, &mut registry, cluster.to_string(), user_data, sc.ctx());
    sc.return_to_sender(cap);
    ts::return_shared(registry);
    nonce
}

/// A document's decisions with the given binding (nonce, user data).
fun register_bound(
    sc: &mut Scenario, cluster: vector<u8>, indices: vector<u8>, values: vector<vector<u8>>, key: Option<vector<u8>>,
    user_data: Option<vector<u8>>, nonce: Option<vector<u8>>, at_ms: u64, clock: &Clock,
) {
    sc.next_tx(HOST);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    enclave_registry::register_attested(&mut registry, cluster.to_string(), indices, values, key, user_data, nonce, at_ms, clock);
    ts::return_shared(registry);
}

/// Opens a registration and registers a document carrying its nonce and USER_DATA.
fun register(sc: &mut Scenario, cluster: vector<u8>, indices: vector<u8>, values: vector<vector<u8>>, key: Option<vector<u8>>, at_ms: u64, clock: &Clock) {
    let nonce = open(sc, cluster, USER_DATA);
    register_bound(sc, cluster, indices, values, key, option::some(USER_DATA), option::some(nonce), at_ms, clock);
}

fun finish(sc: Scenario, clock: Clock) {
    clock.destroy_for_testing();
    sc.end();
}

// === pcrs_match (pure) ===

#[test]
fun pcrs_match_accepts_equal_values_and_ignores_extra_attested_pcrs() {
    let expected_i = vector[0, 1, 2];
    let expected_v = vector[pcr(0xa0), pcr(0xa1), pcr(0xa2)];
    assert!(enclave_registry::pcrs_match(&expected_i, &expected_v, &expected_i, &expected_v));
    // Attested in another order with an extra PCR 8.
    assert!(enclave_registry::pcrs_match(&expected_i, &expected_v, &vector[8, 2, 0, 1], &vector[pcr(0xff), pcr(0xa2), pcr(0xa0), pcr(0xa1)]));
}

#[test]
fun pcrs_match_rejects_a_different_value() {
    assert!(!enclave_registry::pcrs_match(&vector[0, 1], &vector[pcr(1), pcr(2)], &vector[0, 1], &vector[pcr(1), pcr(3)]));
}

#[test]
fun pcrs_match_rejects_a_missing_pcr() {
    assert!(!enclave_registry::pcrs_match(&vector[0, 1, 2], &vector[pcr(1), pcr(2), pcr(3)], &vector[0, 1], &vector[pcr(1), pcr(2)]));
}

#[test]
fun pcrs_match_rejects_a_repeated_attested_index() {
    assert!(!enclave_registry::pcrs_match(&vector[0], &vector[pcr(1)], &vector[0, 0], &vector[pcr(1), pcr(9)]));
}

#[test]
fun pcrs_match_rejects_malformed_or_empty_lists() {
    assert!(!enclave_registry::pcrs_match(&vector[], &vector[], &vector[0], &vector[pcr(1)]));
    assert!(!enclave_registry::pcrs_match(&vector[0, 1], &vector[pcr(1)], &vector[0, 1], &vector[pcr(1), pcr(2)]));
    assert!(!enclave_registry::pcrs_match(&vector[0], &vector[pcr(1)], &vector[0, 1], &vector[pcr(1)]));
}

#[test]
fun pcrs_match_compares_whole_values_not_prefixes() {
    let mut short = pcr(1);
    short.pop_back();
    assert!(!enclave_registry::pcrs_match(&vector[0], &vector[pcr(1)], &vector[0], &vector[short]));
}

// === set_expected_pcrs / remove_cluster ===

#[test]
fun set_expected_pcrs_records_and_replaces_a_clusters_pcrs() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    set_pcrs(&mut sc, b"prod", vector[0, 8], vector[pcr(4), pcr(5)]);
    sc.next_tx(ADMIN);
    let registry = sc.take_shared<EnclaveRegistry>();
    assert!(enclave_registry::has_expected_pcrs(&registry, b"prod".to_string()));
    assert!(!enclave_registry::has_expected_pcrs(&registry, b"dev".to_string()));
    let (indices, values) = enclave_registry::expected_pcrs(&registry, b"prod".to_string());
    assert_eq!(indices, vector[0, 8]);
    assert_eq!(values, vector[pcr(4), pcr(5)]);
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidPcrs)]
fun set_expected_pcrs_with_mismatched_lengths_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0, 1], vector[pcr(1)]);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidPcrs)]
fun set_expected_pcrs_with_no_pcrs_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[], vector[]);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidPcrs)]
fun set_expected_pcrs_with_unsorted_or_repeated_indices_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[1, 1], vector[pcr(1), pcr(2)]);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidPcrValue)]
fun set_expected_pcrs_with_a_short_value_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[x"00"]);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidPcrValue)]
fun set_expected_pcrs_with_an_index_above_31_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[32], vector[pcr(1)]);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidClusterId)]
fun set_expected_pcrs_with_an_empty_cluster_id_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"", vector[0], vector[pcr(1)]);
    finish(sc, clock);
}

#[test]
fun remove_cluster_forgets_pcrs_and_enclave() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04aa"), NOW_MS, &clock);
    open(&mut sc, b"prod", USER_DATA);
    sc.next_tx(ADMIN);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    let cap = sc.take_from_sender<AdminCap>();
    enclave_registry::remove_cluster(&cap, &mut registry, b"prod".to_string());
    assert!(!enclave_registry::has_expected_pcrs(&registry, b"prod".to_string()));
    assert!(!enclave_registry::has_enclave(&registry, b"prod".to_string()));
    assert!(!enclave_registry::has_open_registration(&registry, b"prod".to_string()));
    assert_eq!(
        event::events_by_type<enclave_registry::EnclaveDeregistered>(),
        vector[enclave_registry::enclave_deregistered_for_testing(b"prod".to_string())],
    );
    sc.return_to_sender(cap);
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EUnknownCluster)]
fun remove_cluster_of_an_unknown_cluster_aborts() {
    let (mut sc, clock) = setup();
    sc.next_tx(ADMIN);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    let cap = sc.take_from_sender<AdminCap>();
    enclave_registry::remove_cluster(&cap, &mut registry, b"nope".to_string());
    sc.return_to_sender(cap);
    ts::return_shared(registry);
    finish(sc, clock);
}

// === register_enclave (its decisions, via register_attested) ===

#[test]
fun a_matching_attestation_registers_the_enclave_key_and_emits_enclave_registered() {
    let (mut sc, mut clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    clock.increment_for_testing(600_000);
    register(&mut sc, b"prod", vector[2, 1, 0, 4], vector[pcr(3), pcr(2), pcr(1), pcr(9)], option::some(x"04abcd"), NOW_MS, &clock);
    assert_eq!(
        event::events_by_type<enclave_registry::EnclaveRegistered>()[0],
        enclave_registry::enclave_registered_for_testing(b"prod".to_string(), x"04abcd", vector[pcr(1), pcr(2), pcr(3)]),
    );
    // A newer enclave replaces the old one.
    register(&mut sc, b"prod", vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)], option::some(x"04ef"), NOW_MS + 1, &clock);
    sc.next_tx(ADMIN);
    let registry = sc.take_shared<EnclaveRegistry>();
    assert!(enclave_registry::has_enclave(&registry, b"prod".to_string()));
    assert_eq!(enclave_registry::enclave_public_key(&registry, b"prod".to_string()), x"04ef");
    assert_eq!(enclave_registry::enclave_registered_at_ms(&registry, b"prod".to_string()), NOW_MS + 600_000);
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test]
fun enclave_registered_bcs_matches_the_typescript_event_schema() {
    // Same bytes as test/lambdas/shared/sui/events.test.ts "EnclaveRegistered matches the Move BCS fixture".
    let event = enclave_registry::enclave_registered_for_testing(b"dev".to_string(), x"04ab", vector[x"0102", x"03"]);
    assert_eq!(bcs::to_bytes(&event), x"036465760204ab020201020103");
}

#[test, expected_failure(abort_code = enclave_registry::EPcrMismatch)]
fun an_attestation_with_a_different_pcr_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(3)]);
    register(&mut sc, b"prod", vector[0, 1, 2], vector[pcr(1), pcr(2), pcr(4)], option::some(x"04"), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EUnknownCluster)]
fun registering_for_a_cluster_without_expected_pcrs_aborts() {
    let (mut sc, clock) = setup();
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EMissingPublicKey)]
fun an_attestation_without_a_public_key_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::none(), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EMissingPublicKey)]
fun an_attestation_with_an_empty_public_key_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(vector[]), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EStaleAttestation)]
fun an_attestation_older_than_ten_minutes_cannot_register() {
    let (mut sc, mut clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    clock.increment_for_testing(600_001);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EStaleAttestation)]
fun an_attestation_from_the_future_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), NOW_MS + 1, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EUnknownCluster)]
fun enclave_public_key_of_an_unregistered_cluster_aborts() {
    let (mut sc, clock) = setup();
    let registry = sc.take_shared<EnclaveRegistry>();
    enclave_registry::enclave_public_key(&registry, b"prod".to_string());
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EUnknownCluster)]
fun enclave_registered_at_of_an_unregistered_cluster_aborts() {
    let (mut sc, clock) = setup();
    let registry = sc.take_shared<EnclaveRegistry>();
    enclave_registry::enclave_registered_at_ms(&registry, b"prod".to_string());
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EUnknownCluster)]
fun expected_pcrs_of_an_unknown_cluster_aborts() {
    let (mut sc, clock) = setup();
    let registry = sc.take_shared<EnclaveRegistry>();
    enclave_registry::expected_pcrs(&registry, b"prod".to_string());
    ts::return_shared(registry);
    finish(sc, clock);
}

// === binding to the cluster (issue 12 item 9) ===

#[test]
fun binding_matches_wants_exactly_the_open_nonce_and_user_data() {
    let (n, u) = (x"0102", x"aabb");
    assert!(enclave_registry::binding_matches(&n, &u, &option::some(n), &option::some(u)));
    assert!(!enclave_registry::binding_matches(&n, &u, &option::some(x"0103"), &option::some(u)));
    assert!(!enclave_registry::binding_matches(&n, &u, &option::some(n), &option::some(x"aabc")));
    assert!(!enclave_registry::binding_matches(&n, &u, &option::none(), &option::some(u)));
    assert!(!enclave_registry::binding_matches(&n, &u, &option::some(n), &option::none()));
    assert!(!enclave_registry::binding_matches(&vector[], &u, &option::some(vector[]), &option::some(copy u)));
    assert!(!enclave_registry::binding_matches(&n, &vector[], &option::some(copy n), &option::some(vector[])));
}

#[test]
fun open_registration_announces_a_fresh_nonce_per_opening() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    let first = open(&mut sc, b"prod", USER_DATA);
    assert_eq!(
        event::events_by_type<enclave_registry::RegistrationOpened>(),
        vector[enclave_registry::registration_opened_for_testing(b"prod".to_string(), first)],
    );
    let second = open(&mut sc, b"prod", USER_DATA);
    assert_eq!(first.length(), 32);
    assert!(first != second);
    sc.next_tx(ADMIN);
    let registry = sc.take_shared<EnclaveRegistry>();
    assert!(enclave_registry::has_open_registration(&registry, b"prod".to_string()));
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EUnknownCluster)]
fun open_registration_for_a_cluster_without_pcrs_aborts() {
    let (mut sc, clock) = setup();
    open(&mut sc, b"prod", USER_DATA);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidUserData)]
fun open_registration_without_user_data_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    open(&mut sc, b"prod", vector[]);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EInvalidUserData)]
fun open_registration_with_more_than_512_bytes_of_user_data_aborts() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    open(&mut sc, b"prod", vector::tabulate!(513, |_| 7u8));
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::ENoOpenRegistration)]
fun a_matching_document_without_an_open_registration_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register_bound(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), option::some(USER_DATA), option::some(x"00"), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::ENoOpenRegistration)]
fun replaying_the_registering_document_cannot_overwrite_the_registration() {
    // The attack: anyone resubmits a matching document (or one from another host's enclave of the same
    // image with the same binding) to overwrite the cluster's enclave. The opening is single-use.
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    let nonce = open(&mut sc, b"prod", USER_DATA);
    register_bound(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04aa"), option::some(USER_DATA), option::some(nonce), NOW_MS, &clock);
    register_bound(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04bb"), option::some(USER_DATA), option::some(nonce), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EBindingMismatch)]
fun another_enclave_of_the_same_image_cannot_register_with_its_own_user_data() {
    // Same PCRs, the open nonce (it is public), but its own CA and settings, hence other user data.
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    let nonce = open(&mut sc, b"prod", USER_DATA);
    register_bound(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), option::some(x"bad0"), option::some(nonce), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EBindingMismatch)]
fun a_document_made_before_the_opening_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    let stale = open(&mut sc, b"prod", USER_DATA);
    open(&mut sc, b"prod", USER_DATA);
    register_bound(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), option::some(USER_DATA), option::some(stale), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EBindingMismatch)]
fun a_registration_opened_for_one_cluster_cannot_register_another() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    set_pcrs(&mut sc, b"dev", vector[0], vector[pcr(1)]);
    let for_prod = open(&mut sc, b"prod", USER_DATA);
    open(&mut sc, b"dev", USER_DATA);
    register_bound(&mut sc, b"dev", vector[0], vector[pcr(1)], option::some(x"04"), option::some(USER_DATA), option::some(for_prod), NOW_MS, &clock);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EBindingMismatch)]
fun a_document_without_a_nonce_cannot_register() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    open(&mut sc, b"prod", USER_DATA);
    register_bound(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04"), option::some(USER_DATA), option::none(), NOW_MS, &clock);
    finish(sc, clock);
}

// === PCR changes clear stale registrations ===

#[test]
fun new_pcrs_drop_the_old_images_enclave_and_open_registration() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04aa"), NOW_MS, &clock);
    open(&mut sc, b"prod", USER_DATA);
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(2)]);
    assert_eq!(
        event::events_by_type<enclave_registry::EnclaveDeregistered>(),
        vector[enclave_registry::enclave_deregistered_for_testing(b"prod".to_string())],
    );
    sc.next_tx(ADMIN);
    let registry = sc.take_shared<EnclaveRegistry>();
    assert!(!enclave_registry::has_enclave(&registry, b"prod".to_string()));
    assert!(!enclave_registry::has_open_registration(&registry, b"prod".to_string()));
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test]
fun setting_the_same_pcrs_again_keeps_the_registration() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04aa"), NOW_MS, &clock);
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    assert_eq!(event::events_by_type<enclave_registry::EnclaveDeregistered>(), vector[]);
    sc.next_tx(ADMIN);
    let registry = sc.take_shared<EnclaveRegistry>();
    assert_eq!(enclave_registry::enclave_public_key(&registry, b"prod".to_string()), x"04aa");
    ts::return_shared(registry);
    finish(sc, clock);
}

#[test, expected_failure(abort_code = enclave_registry::EPcrMismatch)]
fun the_old_images_enclave_cannot_register_after_the_pcrs_changed() {
    let (mut sc, clock) = setup();
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(1)]);
    set_pcrs(&mut sc, b"prod", vector[0], vector[pcr(2)]);
    register(&mut sc, b"prod", vector[0], vector[pcr(1)], option::some(x"04aa"), NOW_MS, &clock);
    finish(sc, clock);
}

#[test]
fun registration_event_bcs_match_the_typescript_event_schema() {
    // Same bytes as test/lambdas/shared/sui/events.test.ts "RegistrationOpened/EnclaveDeregistered match the Move BCS fixture".
    assert_eq!(bcs::to_bytes(&enclave_registry::registration_opened_for_testing(b"dev".to_string(), x"0102")), x"03646576020102");
    assert_eq!(bcs::to_bytes(&enclave_registry::enclave_deregistered_for_testing(b"dev".to_string())), x"03646576");
}
