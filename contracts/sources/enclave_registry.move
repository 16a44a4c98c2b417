/// Which enclave runs each cluster's control plane (DESIGN §7). The admin sets the PCRs the reproducible
/// enclave build produced; an enclave registers itself with an attestation document verified on chain by
/// `sui::nitro_attestation::load_nitro_attestation` in the same transaction, and the registry records its
/// public key once the attested PCRs match.
module k3s_daas::enclave_registry;

use k3s_daas::staking::AdminCap;
use std::string::String;
use sui::clock::Clock;
use sui::event;
use sui::nitro_attestation::NitroAttestationDocument;
use sui::table::{Self, Table};

/// A document older than this (by its own timestamp) cannot register.
const MAX_ATTESTATION_AGE_MS: u64 = 600_000;
const MAX_CLUSTER_ID_BYTES: u64 = 64;
/// SHA-384 PCR values are 48 bytes.
const PCR_BYTES: u64 = 48;
const MAX_PCR_INDEX: u8 = 31;

/// PCR index and value lists differ in length, are empty, unsorted, or repeat an index
const EInvalidPcrs: u64 = 200;
/// a PCR value is not 48 bytes or its index is above 31
const EInvalidPcrValue: u64 = 201;
/// no expected PCRs are set for this cluster
const EUnknownCluster: u64 = 202;
/// the attested PCRs differ from the expected ones
const EPcrMismatch: u64 = 203;
/// the attestation carries no public key
const EMissingPublicKey: u64 = 204;
/// the attestation document is too old or from the future
const EStaleAttestation: u64 = 205;
/// cluster id must be 1 to 64 bytes
const EInvalidClusterId: u64 = 206;

public struct EnclaveRegistry has key {
    id: UID,
    /// cluster id → expected PCRs.
    expected: Table<String, ExpectedPcrs>,
    /// cluster id → the enclave registered last.
    enclaves: Table<String, Enclave>,
}

/// PCR indices in ascending order and their values.
public struct ExpectedPcrs has copy, drop, store {
    indices: vector<u8>,
    values: vector<vector<u8>>,
}

public struct Enclave has copy, drop, store {
    public_key: vector<u8>,
    pcrs: vector<vector<u8>>,
    attested_at_ms: u64,
    registered_at_ms: u64,
}

/// Layout fixed by `lambdas/shared/sui/events.ts`. `pcrs` are the matched values, in `indices` order.
public struct EnclaveRegistered has copy, drop {
    cluster_id: String,
    public_key: vector<u8>,
    pcrs: vector<vector<u8>>,
}

fun init(ctx: &mut TxContext) {
    transfer::share_object(EnclaveRegistry {
        id: object::new(ctx),
        expected: table::new(ctx),
        enclaves: table::new(ctx),
    });
}

/// Sets (or replaces) the PCRs a cluster's enclave must attest; `indices` ascending, values 48 bytes.
/// Replacing them keeps the registered enclave until a new one registers; its key stays listed.
public fun set_expected_pcrs(
    _cap: &AdminCap,
    registry: &mut EnclaveRegistry,
    cluster_id: String,
    indices: vector<u8>,
    values: vector<vector<u8>>,
) {
    assert_cluster_id(&cluster_id);
    assert!(indices.length() > 0 && indices.length() == values.length(), EInvalidPcrs);
    let mut i = 0;
    while (i < indices.length()) {
        assert!(indices[i] <= MAX_PCR_INDEX && values[i].length() == PCR_BYTES, EInvalidPcrValue);
        // Strictly ascending: no duplicates, one canonical order for events and comparisons.
        assert!(i == 0 || indices[i - 1] < indices[i], EInvalidPcrs);
        i = i + 1;
    };
    if (registry.expected.contains(cluster_id)) {
        registry.expected.remove(cluster_id);
    };
    registry.expected.add(cluster_id, ExpectedPcrs { indices, values });
}

/// Forgets a cluster's expected PCRs and its enclave.
public fun remove_cluster(_cap: &AdminCap, registry: &mut EnclaveRegistry, cluster_id: String) {
    assert!(registry.expected.contains(cluster_id), EUnknownCluster);
    registry.expected.remove(cluster_id);
    if (registry.enclaves.contains(cluster_id)) {
        registry.enclaves.remove(cluster_id);
    };
}

/// Registers the enclave that produced `document` as the cluster's enclave.
public fun register_enclave(
    registry: &mut EnclaveRegistry,
    cluster_id: String,
    document: &NitroAttestationDocument,
    clock: &Clock,
) {
    let mut indices = vector[];
    let mut values = vector[];
    document.pcrs().do_ref!(|entry| {
        indices.push_back(entry.index());
        values.push_back(*entry.value());
    });
    register_attested(registry, cluster_id, indices, values, *document.public_key(), *document.timestamp(), clock);
}

/// Everything `register_enclave` decides, over plain values: the framework's attestation natives abort in
/// the Move test runner, so tests drive this. Package-only, so no caller can skip the attestation.
public(package) fun register_attested(
    registry: &mut EnclaveRegistry,
    cluster_id: String,
    pcr_indices: vector<u8>,
    pcr_values: vector<vector<u8>>,
    public_key: Option<vector<u8>>,
    attested_at_ms: u64,
    clock: &Clock,
) {
    assert!(registry.expected.contains(cluster_id), EUnknownCluster);
    let now = clock.timestamp_ms();
    assert!(attested_at_ms <= now && now - attested_at_ms <= MAX_ATTESTATION_AGE_MS, EStaleAttestation);
    let expected = registry.expected[cluster_id];
    assert!(pcrs_match(&expected.indices, &expected.values, &pcr_indices, &pcr_values), EPcrMismatch);
    assert!(public_key.is_some(), EMissingPublicKey);
    let public_key = public_key.destroy_some();
    assert!(public_key.length() > 0, EMissingPublicKey);
    if (registry.enclaves.contains(cluster_id)) {
        registry.enclaves.remove(cluster_id);
    };
    registry.enclaves.add(cluster_id, Enclave {
        public_key,
        pcrs: expected.values,
        attested_at_ms,
        registered_at_ms: now,
    });
    event::emit(EnclaveRegistered { cluster_id, public_key, pcrs: expected.values });
}

/// True when every expected (index, value) pair appears in the attested lists. Extra attested PCRs are
/// ignored (testnet omits all-zero PCRs, and PCRs we do not pin may vary). Malformed input never matches.
public fun pcrs_match(
    expected_indices: &vector<u8>,
    expected_values: &vector<vector<u8>>,
    actual_indices: &vector<u8>,
    actual_values: &vector<vector<u8>>,
): bool {
    if (expected_indices.length() != expected_values.length()) return false;
    if (actual_indices.length() != actual_values.length()) return false;
    if (expected_indices.length() == 0) return false;
    let mut i = 0;
    while (i < expected_indices.length()) {
        let (found, j) = actual_indices.index_of(&expected_indices[i]);
        if (!found || actual_values[j] != expected_values[i]) return false;
        // A repeated attested index could hide a second, different value: refuse it.
        let mut k = j + 1;
        while (k < actual_indices.length()) {
            if (actual_indices[k] == expected_indices[i]) return false;
            k = k + 1;
        };
        i = i + 1;
    };
    true
}

fun assert_cluster_id(cluster_id: &String) {
    let len = cluster_id.length();
    assert!(len > 0 && len <= MAX_CLUSTER_ID_BYTES, EInvalidClusterId);
}

// === Views ===

public fun has_expected_pcrs(registry: &EnclaveRegistry, cluster_id: String): bool {
    registry.expected.contains(cluster_id)
}

/// (indices, values); aborts with `EUnknownCluster`.
public fun expected_pcrs(registry: &EnclaveRegistry, cluster_id: String): (vector<u8>, vector<vector<u8>>) {
    assert!(registry.expected.contains(cluster_id), EUnknownCluster);
    let e = registry.expected[cluster_id];
    (e.indices, e.values)
}

public fun has_enclave(registry: &EnclaveRegistry, cluster_id: String): bool {
    registry.enclaves.contains(cluster_id)
}

/// The registered enclave's public key; aborts with `EUnknownCluster` when none registered.
public fun enclave_public_key(registry: &EnclaveRegistry, cluster_id: String): vector<u8> {
    assert!(registry.enclaves.contains(cluster_id), EUnknownCluster);
    registry.enclaves[cluster_id].public_key
}

public fun enclave_registered_at_ms(registry: &EnclaveRegistry, cluster_id: String): u64 {
    assert!(registry.enclaves.contains(cluster_id), EUnknownCluster);
    registry.enclaves[cluster_id].registered_at_ms
}

#[test_only]
public fun init_for_testing(ctx: &mut TxContext) { init(ctx) }

#[test_only]
public fun enclave_registered_for_testing(cluster_id: String, public_key: vector<u8>, pcrs: vector<vector<u8>>): EnclaveRegistered {
    EnclaveRegistered { cluster_id, public_key, pcrs }
}
