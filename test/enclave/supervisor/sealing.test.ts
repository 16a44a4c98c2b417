// Seal/unseal and snapshot/restore through a fake KMS that enforces the cluster-state key policy:
// only a Recipient whose attestation document verifies (test Nitro CA, the project's verifier) with the
// build's PCRs gets the data key. An enclave running another image cannot unseal.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as crypto from 'node:crypto';
import { EnclaveKms, KmsRecipientError } from '../../../enclave/src/supervisor/kms-client';
import { RecipientKey } from '../../../enclave/src/supervisor/recipient';
import { EnvelopeError, seal, unseal } from '../../../enclave/src/supervisor/envelope';
import { SealedSecretsError, loadOrCreateClusterSecrets, type BlobStore } from '../../../enclave/src/supervisor/sealed-secrets';
import { SnapshotVault, checkAgainstCommitted, secretsLineage, type SnapshotStore } from '../../../enclave/src/supervisor/snapshots';
import { createHash } from 'node:crypto';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { FakeKms, OTHER_IMAGE_PCRS, testCaAttester } from '../support/fake-nitro';

const STATE_KEY = 'arn:aws:kms:us-east-1:111111111111:key/cluster-state';
const CLUSTER = 'k3s-daas-dev';
const API = 'https://abc123.execute-api.us-east-1.amazonaws.com/';
const JOIN_KEY = 'arn:aws:kms:us-east-1:111111111111:key/join-token';
const EXPECTED = { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] };

let ca: NitroTestCa;
let kms: FakeKms;
beforeAll(async () => {
  ca = await NitroTestCa.create();
  kms = new FakeKms(ca.rootPem);
  kms.createKey(STATE_KEY, EXPECTED);
});

/** A booted enclave: a fresh recipient key per boot, documents with the image's PCRs. */
function enclave(pcrs: Record<number, string> = TEST_PCRS): EnclaveKms {
  return new EnclaveKms(kms, RecipientKey.generate(), testCaAttester(ca, pcrs));
}

function memoryStore(): BlobStore & { value?: Uint8Array } {
  const store: BlobStore & { value?: Uint8Array } = {
    get: async () => store.value,
    put: async (bytes) => {
      store.value = bytes;
    },
  };
  return store;
}

const random = (n: number) => crypto.randomBytes(n);
const boot = (enclaveKms: EnclaveKms, store: BlobStore, extra: Partial<Parameters<typeof loadOrCreateClusterSecrets>[0]> = {}) =>
  loadOrCreateClusterSecrets({ kms: enclaveKms, keyId: STATE_KEY, clusterId: CLUSTER, apiUrl: API, joinTokenKeyId: JOIN_KEY, store, random, snapshotExists: false, ...extra });

describe('cluster secrets', () => {
  it('first boot generates distinct 256-bit tokens and stores only ciphertext; a later boot of the same image unseals them', async () => {
    const store = memoryStore();
    const first = await boot(enclave(), store);
    expect(first.created).toBe(true);
    expect(first.secrets.serverToken).toMatch(/^[0-9a-f]{64}$/);
    expect(first.secrets.agentToken).not.toBe(first.secrets.serverToken);
    const stored = Buffer.from(store.value!).toString();
    expect(stored).not.toContain(first.secrets.serverToken);
    expect(stored).not.toContain(first.secrets.agentToken);

    const second = await boot(enclave(), store);
    expect(second).toEqual({ secrets: first.secrets, created: false });
  });

  it('sends every GenerateDataKey and Decrypt with a Recipient and the cluster-secrets encryption context', async () => {
    kms.calls.length = 0;
    const store = memoryStore();
    await boot(enclave(), store);
    await boot(enclave(), store);
    expect(kms.calls.map((c) => [c.op, c.recipient, c.context])).toEqual([
      ['GenerateDataKey', true, { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' }],
      ['Decrypt', true, { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' }],
    ]);
  });

  it('an enclave built from another image (other PCRs) cannot unseal them', async () => {
    const store = memoryStore();
    await boot(enclave(), store);
    await expect(boot(enclave(OTHER_IMAGE_PCRS), store)).rejects.toThrow(/recipient attestation refused: pcr_mismatch/);
  });

  it('an enclave built from another image cannot create them either (no data key without the PCRs)', async () => {
    await expect(boot(enclave(OTHER_IMAGE_PCRS), memoryStore())).rejects.toThrow(/pcr_mismatch/);
  });

  it('refuses to mint new tokens when a snapshot exists but the sealed secrets are gone', async () => {
    await expect(boot(enclave(), memoryStore(), { snapshotExists: true })).rejects.toThrow(SealedSecretsError);
  });

  it('refuses a host that points the cluster at another API than the one sealed at first boot', async () => {
    const store = memoryStore();
    await boot(enclave(), store);
    await expect(boot(enclave(), store, { apiUrl: 'https://evil.example.com/' })).rejects.toThrow(/refusing to redirect authentication/);
  });

  it('refuses a host that swaps in another join-token key than the one sealed at first boot (it could decrypt the agent token)', async () => {
    const store = memoryStore();
    const first = await boot(enclave(), store);
    expect(first.secrets.joinTokenKeyId).toBe(JOIN_KEY);
    await expect(boot(enclave(), store, { joinTokenKeyId: 'arn:aws:kms:us-east-1:222222222222:key/host-owned' })).rejects.toThrow(/refusing to hand the agent token to another key/);
  });

  it('refuses a tampered sealed blob', async () => {
    const store = memoryStore();
    await boot(enclave(), store);
    const envelope = JSON.parse(Buffer.from(store.value!).toString());
    const ct = Buffer.from(envelope.ciphertext, 'base64');
    ct[0] ^= 1;
    store.value = Buffer.from(JSON.stringify({ ...envelope, ciphertext: ct.toString('base64') }));
    await expect(boot(enclave(), store)).rejects.toThrow(EnvelopeError);
    store.value = Buffer.from('garbage');
    await expect(boot(enclave(), store)).rejects.toThrow(/not a K3s-DaaS envelope/);
  });

  it('refuses a sealed blob whose GCM tag the host truncated (Node would accept a 4-byte tag)', async () => {
    const e = enclave();
    const context = { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' };
    const sealed = JSON.parse((await seal(e, STATE_KEY, context, Buffer.from('secret'))).toString());
    expect((await unseal(e, context, Buffer.from(JSON.stringify(sealed)), STATE_KEY)).toString()).toBe('secret');
    for (const bytes of [4, 8, 12, 15]) {
      const tag = Buffer.from(sealed.tag, 'base64').subarray(0, bytes).toString('base64');
      await expect(unseal(e, context, Buffer.from(JSON.stringify({ ...sealed, tag })), STATE_KEY)).rejects.toThrow(EnvelopeError);
    }
  });

  it('refuses a KMS answer that carries plaintext instead of CiphertextForRecipient', async () => {
    kms.leakPlaintext = true;
    try {
      await expect(boot(enclave(), memoryStore())).rejects.toThrow(KmsRecipientError);
    } finally {
      kms.leakPlaintext = false;
    }
  });
});

describe('datastore snapshots', () => {
  function memorySnapshots(): SnapshotStore & { versions: Uint8Array[] } {
    const versions: Uint8Array[] = [];
    return { versions, put: async (b) => void versions.push(b), latest: async () => versions.at(-1) };
  }

  const LINEAGE = secretsLineage('a'.repeat(64));
  const pull = async (vault: SnapshotVault, lineage = LINEAGE) => {
    const sealed = await vault.fetchLatest();
    return sealed && vault.open(sealed, lineage);
  };
  /** What the platform committed: the vault's current claim, as the attestation route would store it. */
  const committedOf = (vault: SnapshotVault) => ({ seq: Number(vault.claim().seq), sha256: vault.claim().sha256.toString('hex') });

  it('round-trips: the newest pushed snapshot is what a rebooted enclave restores', async () => {
    const store = memorySnapshots();
    const vault = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    expect(await pull(vault)).toBeUndefined();
    expect(await vault.push(Buffer.from('etcd snapshot 1'), LINEAGE, committedOf(vault))).toBe(true);
    expect(await vault.push(Buffer.from('etcd snapshot 2'), LINEAGE, committedOf(vault))).toBe(true);
    expect(vault.claim().seq).toBe(2n);
    expect(Buffer.from(store.versions[1]).toString()).not.toContain('etcd snapshot');
    const rebooted = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    expect((await pull(rebooted))?.toString()).toBe('etcd snapshot 2');
    expect(rebooted.claim()).toEqual(vault.claim());
  });

  it('seals nothing while the current snapshot is not committed (at most one uncommitted snapshot)', async () => {
    const store = memorySnapshots();
    const vault = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    expect(await vault.push(Buffer.from('s'), LINEAGE, undefined)).toBe(false);
    expect(await vault.push(Buffer.from('s'), LINEAGE, { seq: 0, sha256: '00'.repeat(32) })).toBe(true);
    expect(await vault.push(Buffer.from('s'), LINEAGE, { seq: 0, sha256: '00'.repeat(32) })).toBe(false);
    expect(await vault.push(Buffer.from('s'), LINEAGE, { seq: 1, sha256: 'ff'.repeat(32) })).toBe(false);
    expect(store.versions).toHaveLength(1);
  });

  it('attack: a snapshot does not open beside another generation of cluster secrets (lineage in the context)', async () => {
    const store = memorySnapshots();
    const vault = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    await vault.push(Buffer.from('state'), LINEAGE, committedOf(vault));
    const rebooted = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    await expect(pull(rebooted, secretsLineage('b'.repeat(64)))).rejects.toThrow(/InvalidCiphertext/);
  });

  it.each([
    ['the committed snapshot', 2, 'same', undefined],
    ['the one sealed after the commit', 1, 'other', undefined],
    ['no snapshot before anything was committed', 0, 'none', undefined],
    ['an older snapshot', 3, 'other', /older than the committed snapshot 3/],
    ['another snapshot with the committed number', 2, 'other', /another snapshot 2 than the committed one/],
    ['a jump past the next number', 0, 'other', /only 0 is committed/],
    ['no snapshot once one was committed', 1, 'none', /committed snapshot 1 but the host has no snapshot/],
  ])('boot check against the committed counter: %s', async (_name, committedSeq, offered, refusal) => {
    const store = memorySnapshots();
    const vault = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    await vault.push(Buffer.from('one'), LINEAGE, committedOf(vault));
    await vault.push(Buffer.from('two'), LINEAGE, committedOf(vault));
    const sealed = offered === 'none' ? undefined : store.versions[1];
    const digest = offered === 'same' ? createHash('sha256').update(store.versions[1]).digest('hex') : 'ee'.repeat(32);
    const check = () => checkAgainstCommitted(sealed, { seq: committedSeq, sha256: committedSeq === 0 ? '00'.repeat(32) : digest });
    if (refusal) expect(check).toThrow(refusal);
    else expect(check).not.toThrow();
  });

  it('another image cannot restore a snapshot', async () => {
    const store = memorySnapshots();
    const vault = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    await vault.push(Buffer.from('state'), LINEAGE, committedOf(vault));
    await expect(pull(new SnapshotVault({ kms: enclave(OTHER_IMAGE_PCRS), keyId: STATE_KEY, clusterId: CLUSTER, store }))).rejects.toThrow(/pcr_mismatch/);
  });

  it('a blob sealed as cluster secrets does not open as a snapshot (contexts are separate)', async () => {
    const e = enclave();
    const envelope = await seal(e, STATE_KEY, { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' }, Buffer.from('x'));
    const sealed = Buffer.from(JSON.stringify({ v: 1, seq: '1', envelope: envelope.toString('base64') }));
    await expect(
      pull(new SnapshotVault({ kms: e, keyId: STATE_KEY, clusterId: CLUSTER, store: { put: async () => undefined, latest: async () => sealed } })),
    ).rejects.toThrow(/InvalidCiphertext/);
    expect((await unseal(e, { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' }, envelope)).toString()).toBe('x');
  });
});
