/// Which enclave runs each cluster's control plane (DESIGN §7). The admin sets the PCRs the reproducible
/// enclave build produced; an enclave registers itself with an attestation document verified on chain by
/// `sui::nitro_attestation::load_nitro_attestation` in the same transaction, and the registry records its
/// public key once the attested PCRs match.
///
/// A registration is bound to its cluster: the admin opens it (`open_registration`) with the `user_data`
/// of the cluster's enclave as the platform verified it (it commits to the cluster CA and the boot
/// settings, which name the platform's keys), and the registry draws a fresh single-use nonce for it. The
/// document must carry both, so neither a replayed document nor another enclave of the same image (whose
/// CA and settings differ) can take the cluster over. Changing a cluster's PCRs drops its registration.
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
/// The NSM accepts at most 512 bytes of user data.
const MAX_USER_DATA_BYTES: u64 = 512;

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
/// no registration is open for this cluster
const ENoOpenRegistration: u64 = 207;
/// the attestation's nonce or user data is not the open registration's
const EBindingMismatch: u64 = 208;
/// user data must be 1 to 512 bytes
const EInvalidUserData: u64 = 209;

public struct EnclaveRegistry has key {
    id: UID,
    /// cluster id → expected PCRs.
    expected: Table<String, ExpectedPcrs>,
    /// cluster id → the enclave registered last.
    enclaves: Table<String, Enclave>,
    /// cluster id → the registration the admin opened and no enclave has used yet.
    pending: Table<String, PendingRegistration>,
}

/// What the registering document must carry: the registry's nonce and the admin-given user data.
public struct PendingRegistration has copy, drop, store {
    nonce: vector<u8>,
    user_data: vector<u8>,
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

/// A registration is open: the cluster's enclave must attest with `nonce` as the document's nonce.
public struct RegistrationOpened has copy, drop {
    cluster_id: String,
    nonce: vector<u8>,
}

/// The cluster has no registered enclave any more (its PCRs changed, or the cluster was removed).
public struct EnclaveDeregistered has copy, drop {
    cluster_id: String,
}

fun init(ctx: &mut TxContext) {
    transfer::share_object(EnclaveRegistry {
        id: object::new(ctx),
        expected: table::new(ctx),
        enclaves: table::new(ctx),
        pending: table::new(ctx),
    });
}

/// Sets (or replaces) the PCRs a cluster's enclave must attest; `indices` ascending, values 48 bytes.
/// Different PCRs drop the registered enclave and any open registration: the old image's enclave is
/// not the cluster's enclave any more, and a new one registers through a new `open_registration`.
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
    let next = ExpectedPcrs { indices, values };
    if (registry.expected.contains(cluster_id)) {
        let previous = registry.expected.remove(cluster_id);
        if (previous != next) forget_registrations(registry, cluster_id);
    };
    registry.expected.add(cluster_id, next);
}

/// Forgets a cluster's expected PCRs, its enclave and any open registration.
public fun remove_cluster(_cap: &AdminCap, registry: &mut EnclaveRegistry, cluster_id: String) {
    assert!(registry.expected.contains(cluster_id), EUnknownCluster);
    registry.expected.remove(cluster_id);
    forget_registrations(registry, cluster_id);
}

fun forget_registrations(registry: &mut EnclaveRegistry, cluster_id: String) {
    if (registry.pending.contains(cluster_id)) {
        registry.pending.remove(cluster_id);
    };
    if (registry.enclaves.contains(cluster_id)) {
        registry.enclaves.remove(cluster_id);
        event::emit(EnclaveDeregistered { cluster_id });
    };
}

/// Opens (or re-opens, replacing the previous one) the cluster's registration: the next document must
/// carry `user_data` — the cluster enclave's user data as the platform's attestation route verified it —
/// and the fresh nonce announced in `RegistrationOpened`. Returns the nonce.
public fun open_registration(
    _cap: &AdminCap,
    registry: &mut EnclaveRegistry,
    cluster_id: String,
    user_data: vector<u8>,
    ctx: &mut TxContext,
): vector<u8> {
    assert!(registry.expected.contains(cluster_id), EUnknownCluster);
    assert!(user_data.length() > 0 && user_data.length() <= MAX_USER_DATA_BYTES, EInvalidUserData);
    // Unique per call and unknown before the transaction runs: a document made earlier cannot carry it.
    let nonce = sui::address::to_bytes(ctx.fresh_object_address());
    if (registry.pending.contains(cluster_id)) {
        registry.pending.remove(cluster_id);
    };
    registry.pending.add(cluster_id, PendingRegistration { nonce, user_data });
    event::emit(RegistrationOpened { cluster_id, nonce });
    nonce
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
    register_attested(
        registry, cluster_id, indices, values, *document.public_key(), *document.user_data(), *document.nonce(),
        *document.timestamp(), clock,
    );
}

/// Everything `register_enclave` decides, over plain values: the framework's attestation natives abort in
/// the Move test runner, so tests drive this. Package-only, so no caller can skip the attestation.
public(package) fun register_attested(
    registry: &mut EnclaveRegistry,
    cluster_id: String,
    pcr_indices: vector<u8>,
    pcr_values: vector<vector<u8>>,
    public_key: Option<vector<u8>>,
    user_data: Option<vector<u8>>,
    nonce: Option<vector<u8>>,
    attested_at_ms: u64,
    clock: &Clock,
) {
    assert!(registry.expected.contains(cluster_id), EUnknownCluster);
    let now = clock.timestamp_ms();
    assert!(attested_at_ms <= now && now - attested_at_ms <= MAX_ATTESTATION_AGE_MS, EStaleAttestation);
    let expected = registry.expected[cluster_id];
    assert!(pcrs_match(&expected.indices, &expected.values, &pcr_indices, &pcr_values), EPcrMismatch);
    assert!(registry.pending.contains(cluster_id), ENoOpenRegistration);
    let pending = registry.pending[cluster_id];
    assert!(binding_matches(&pending.nonce, &pending.user_data, &nonce, &user_data), EBindingMismatch);
    assert!(public_key.is_some(), EMissingPublicKey);
    let public_key = public_key.destroy_some();
    assert!(public_key.length() > 0, EMissingPublicKey);
    // Single use: the same document (or any other) cannot register again without a new opening.
    registry.pending.remove(cluster_id);
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

/// True when the document carries exactly the open registration's nonce and user data. Pure, like
/// `pcrs_match`, so unit tests can call it. An empty expectation never matches.
public fun binding_matches(
    expected_nonce: &vector<u8>,
    expected_user_data: &vector<u8>,
    nonce: &Option<vector<u8>>,
    user_data: &Option<vector<u8>>,
): bool {
    if (expected_nonce.is_empty() || expected_user_data.is_empty()) return false;
    if (nonce.is_none() || user_data.is_none()) return false;
    nonce.borrow() == expected_nonce && user_data.borrow() == expected_user_data
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

public fun has_open_registration(registry: &EnclaveRegistry, cluster_id: String): bool {
    registry.pending.contains(cluster_id)
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

#[test_only]
public fun registration_opened_for_testing(cluster_id: String, nonce: vector<u8>): RegistrationOpened {
    RegistrationOpened { cluster_id, nonce }
}

#[test_only]
public fun enclave_deregistered_for_testing(cluster_id: String): EnclaveDeregistered { EnclaveDeregistered { cluster_id } }
