// Seal/unseal and snapshot/restore through a fake KMS that enforces the cluster-state key policy:
// only a Recipient whose attestation document verifies (test Nitro CA, the project's verifier) with the
// build's PCRs gets the data key. An enclave running another image cannot unseal.
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as crypto from 'node:crypto';
import { EnclaveKms, KmsRecipientError } from '../../../enclave/src/supervisor/kms-client';
import { RecipientKey } from '../../../enclave/src/supervisor/recipient';
import { EnvelopeError, seal, unseal } from '../../../enclave/src/supervisor/envelope';
import { SealedSecretsError, loadOrCreateClusterSecrets, type BlobStore } from '../../../enclave/src/supervisor/sealed-secrets';
import { SnapshotVault, type SnapshotStore } from '../../../enclave/src/supervisor/snapshots';
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

  it('round-trips: the newest pushed snapshot is what a rebooted enclave restores', async () => {
    const store = memorySnapshots();
    const vault = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    expect(await vault.pullLatest()).toBeUndefined();
    await vault.push(Buffer.from('etcd snapshot 1'));
    await vault.push(Buffer.from('etcd snapshot 2'));
    expect(Buffer.from(store.versions[1]).toString()).not.toContain('etcd snapshot');
    const rebooted = new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store });
    expect((await rebooted.pullLatest())?.toString()).toBe('etcd snapshot 2');
  });

  it('another image cannot restore a snapshot', async () => {
    const store = memorySnapshots();
    await new SnapshotVault({ kms: enclave(), keyId: STATE_KEY, clusterId: CLUSTER, store }).push(Buffer.from('state'));
    await expect(new SnapshotVault({ kms: enclave(OTHER_IMAGE_PCRS), keyId: STATE_KEY, clusterId: CLUSTER, store }).pullLatest()).rejects.toThrow(/pcr_mismatch/);
  });

  it('a blob sealed as cluster secrets does not open as a snapshot (contexts are separate)', async () => {
    const e = enclave();
    const sealed = await seal(e, STATE_KEY, { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' }, Buffer.from('x'));
    await expect(new SnapshotVault({ kms: e, keyId: STATE_KEY, clusterId: CLUSTER, store: { put: async () => undefined, latest: async () => sealed } }).pullLatest()).rejects.toThrow(
      /InvalidCiphertext/,
    );
    expect((await unseal(e, { cluster: CLUSTER, purpose: 'k3s-daas-cluster-secrets' }, sealed)).toString()).toBe('x');
  });
});
