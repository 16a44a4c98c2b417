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

fun register(sc: &mut Scenario, cluster: vector<u8>, indices: vector<u8>, values: vector<vector<u8>>, key: Option<vector<u8>>, at_ms: u64, clock: &Clock) {
    sc.next_tx(HOST);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    enclave_registry::register_attested(&mut registry, cluster.to_string(), indices, values, key, at_ms, clock);
    ts::return_shared(registry);
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
    sc.next_tx(ADMIN);
    let mut registry = sc.take_shared<EnclaveRegistry>();
    let cap = sc.take_from_sender<AdminCap>();
    enclave_registry::remove_cluster(&cap, &mut registry, b"prod".to_string());
    assert!(!enclave_registry::has_expected_pcrs(&registry, b"prod".to_string()));
    assert!(!enclave_registry::has_enclave(&registry, b"prod".to_string()));
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
