// POST /v1/kubeconfig: 200 with a KMS-signed kubeconfig for an accepted credential and a fresh
// attestation; 401 with the reason for a refused credential; 503 no_attestation otherwise.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import { KubeConfig } from '@kubernetes/client-node';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHash, X509Certificate } from 'node:crypto';
import { parse } from 'yaml';
import { createHandler, type CredentialCheckResult, type KubeconfigHandlerDeps } from '../../../lambdas/kubeconfig/handler';
import { MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { SignatureVerifierUnavailableError } from '../../../lambdas/shared/credentials/credential';
import { IndexUnavailableError, type AttestationRecord } from '../../../lambdas/shared/index/index-model';
import { KmsKubeconfigSigner } from '../../../lambdas/shared/kubeconfig/kms-signing-key';
import { verifyKubeconfigSignature } from '../../../lambdas/shared/kubeconfig/kubeconfig-signature';
import { createCredential } from '../../../lambdas/shared/credentials/credential';
import { MemoryIndexRepository } from '../../../lambdas/shared/index/index-repository-memory';
import { createTokenChecker } from '../../../lambdas/shared/credentials/token-check';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { attestationRecordFor, createClusterCaPem } from '../../support/cluster-ca';
import { startFakeKms, type FakeKms } from '../../support/fake-kms';
import { StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { TEST_SETTINGS, testSettings } from '../../support/enclave-settings';
import { settingsDigest } from '../../../lambdas/shared/attestation/enclave-claims';

const TOKEN = '0x' + '12'.repeat(32);
const NOW = new Date('2026-11-23T02:00:00Z');
const SERVER = 'https://nlb.example.com:6443';

function post(body: unknown, raw?: string): APIGatewayProxyEventV2 {
  return { body: raw ?? JSON.stringify(body), isBase64Encoded: false } as APIGatewayProxyEventV2;
}

describe('POST /v1/kubeconfig', () => {
  let kms: FakeKms;
  let signer: KmsKubeconfigSigner;
  let record: AttestationRecord;
  const accept = async (c: string): Promise<CredentialCheckResult> => (c === 'good' ? { ok: true, identity: { tokenId: TOKEN } } : { ok: false, reason: 'bad_signature' });
  const deps = (over: Partial<KubeconfigHandlerDeps> = {}): KubeconfigHandlerDeps => ({
    checkCredential: accept,
    store: new MemoryAttestationRecordStore(record),
    signer,
    clusterId: 'k3s-daas-dev',
    serverUrl: SERVER,
    maxAttestationAgeMs: 15 * 60_000,
    now: () => NOW,
    settings: new StaticPlatformSettings(TEST_SETTINGS),
    ...over,
  });

  beforeAll(async () => {
    kms = await startFakeKms();
    signer = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
    const caCertPem = await createClusterCaPem();
    record = attestationRecordFor(caCertPem, NOW);
  });
  afterAll(() => kms.stop());

  it('200: a kubeconfig signed by the KMS key, with the attestation summary of DESIGN §4', async () => {
    const res = await createHandler(deps())(post({ credential: 'good' }));
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body!);
    expect(body.keyId).toBe(kms.keyArn);
    expect(body.attestation).toMatchObject({ pcrs: record.pcrs, timestamp: record.timestamp, caSha256: record.caSha256 });
    // Everything the CLI needs to verify against its own anchors: the raw document, the attested settings, the key.
    expect(body.attestation).toMatchObject({ document: record.document, settings: TEST_SETTINGS, settingsSha256: record.settingsSha256, snapshot: { seq: 0 } });
    expect(body.publicKeyPem).toBe(await signer.publicKeyPem());
    expect(verifyKubeconfigSignature(body.kubeconfig, body.signature, await signer.publicKeyPem())).toBe(true);
    const kc = new KubeConfig();
    kc.loadFromString(body.kubeconfig);
    expect(kc.getCurrentCluster()?.server).toBe(SERVER);
    expect(kc.getCurrentUser()?.exec?.args).toEqual(['credential', '--token', TOKEN, '--cluster', 'k3s-daas-dev']);
    const { pcrs, timestamp, caSha256 } = body.attestation;
    expect(parse(body.kubeconfig).extensions[0].extension).toEqual({ pcrs, timestamp, caSha256 });
  });

  it('401 with the reason code for a refused credential, and nothing is signed', async () => {
    const signs = kms.calls.filter((c) => c.op === 'Sign').length;
    const res = await createHandler(deps())(post({ credential: 'forged' }));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body!).error).toBe('bad_signature');
    expect(kms.calls.filter((c) => c.op === 'Sign').length).toBe(signs);
  });

  it('503 no_attestation when no attestation was ever verified', async () => {
    const res = await createHandler(deps({ store: new MemoryAttestationRecordStore() }))(post({ credential: 'good' }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toBe('no_attestation');
  });

  it('503 no_attestation when the latest attestation is older than the maximum age', async () => {
    const res = await createHandler(deps({ now: () => new Date(NOW.getTime() + 15 * 60_000) }))(post({ credential: 'good' }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toBe('no_attestation');
  });

  it('503 backend_unavailable when the token index cannot be reached (fail closed)', async () => {
    const res = await createHandler(
      deps({
        checkCredential: async () => {
          throw new IndexUnavailableError('down');
        },
      }),
    )(post({ credential: 'good' }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toBe('backend_unavailable');
  });

  it('503 backend_unavailable when the zkLogin verifier (Sui node) cannot be reached (fail closed)', async () => {
    const res = await createHandler(
      deps({
        checkCredential: async () => {
          throw new SignatureVerifierUnavailableError('sui node unreachable');
        },
      }),
    )(post({ credential: 'good' }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toBe('backend_unavailable');
  });

  it('503 backend_unavailable when the attestation record cannot be read (fail closed), and nothing is signed', async () => {
    const signs = kms.calls.filter((c) => c.op === 'Sign').length;
    const store = {
      getLatest: async () => {
        throw new IndexUnavailableError('attestation record could not be read');
      },
    };
    const res = await createHandler(deps({ store }))(post({ credential: 'good' }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toBe('backend_unavailable');
    expect(kms.calls.filter((c) => c.op === 'Sign').length).toBe(signs);
  });

  it.each([
    ['invalid JSON', '{', 400, 'invalid_json'],
    ['a missing credential', '{}', 400, 'invalid_request'],
    ['a credential of the wrong type', '{"credential": 5}', 400, 'invalid_request'],
    ['an oversize body', JSON.stringify({ credential: 'x'.repeat(17_000) }), 413, 'payload_too_large'],
  ])('%s is a clean 4xx', async (_name, raw, status, code) => {
    const res = await createHandler(deps())(post(undefined, raw));
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body!).error).toBe(code);
  });
  it('attack: a record attested with other boot settings than the platform\'s serves no kubeconfig (503 settings_mismatch), nothing is signed', async () => {
    const signs = kms.calls.filter((c) => c.op === 'Sign').length;
    const other = testSettings({ apiUrl: 'https://attacker.example.net' });
    for (const settings of [new StaticPlatformSettings(other)]) {
      const res = await createHandler(deps({ settings }))(post({ credential: 'good' }));
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body!).error).toBe('settings_mismatch');
    }
    const legacy: AttestationRecord = { ...record, settingsSha256: undefined };
    const res = await createHandler(deps({ store: new MemoryAttestationRecordStore(legacy) }))(post({ credential: 'good' }));
    expect(JSON.parse(res.body!).error).toBe('settings_mismatch');
    expect(kms.calls.filter((c) => c.op === 'Sign').length).toBe(signs);
  });});

describe('POST /v1/kubeconfig with the real token checker over the index', () => {
  let kms: FakeKms;
  let deps: KubeconfigHandlerDeps;
  let index: MemoryIndexRepository;
  const owner = Ed25519Keypair.generate();
  const STAKE = '0x' + '34'.repeat(32);
  const pos = { checkpoint: 1n, txOrdinal: 0, eventIndex: 0, txDigest: 'D' };

  beforeAll(async () => {
    kms = await startFakeKms();
    const caCertPem = await createClusterCaPem();
    const record: AttestationRecord = {
      pcrs: { PCR0: 'aa'.repeat(48) },
      caSha256: createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex'),
      caCertPem,
      moduleId: 'm',
      timestamp: new Date(NOW.getTime() - 60_000).toISOString(),
      verifiedAt: NOW.toISOString(),
      settingsSha256: settingsDigest(TEST_SETTINGS).toString('hex'),
    };
    index = new MemoryIndexRepository();
    await index.writeEntities([
      { kind: 'stake', expectedRev: 0, record: { stakeId: STAKE, owner: owner.toSuiAddress(), role: 'user', amountMist: 10n ** 9n, status: 'active', nodeId: '', lastEvent: pos } },
      {
        kind: 'token',
        expectedRev: 0,
        record: { tokenId: TOKEN, stakeId: STAKE, owner: owner.toSuiAddress(), role: 'user', permissions: ['read'], clusterId: 'k3s-daas-dev', expiresAtMs: NOW.getTime() + 86_400_000, revoked: false, invalidated: false, lastEvent: pos },
      },
    ]);
    await index.putCursor({ cursor: 'c', checkpoint: 1n, eventsSeen: 0, updatedAt: NOW.toISOString(), coveredThroughMs: NOW.getTime() }, undefined);
    const checker = createTokenChecker({ index, clusterId: 'k3s-daas-dev', freshness: { maxAgeMs: 300_000 }, now: () => NOW });
    deps = {
      checkCredential: (c) => checker.check(c),
      store: new MemoryAttestationRecordStore(record),
      signer: new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn),
      clusterId: 'k3s-daas-dev',
      serverUrl: SERVER,
      maxAttestationAgeMs: 15 * 60_000,
      now: () => NOW,
      settings: new StaticPlatformSettings(TEST_SETTINGS),
    };
  });
  afterAll(() => kms.stop());

  it('200 for a credential signed by the token owner; the kubeconfig names that token', async () => {
    const { credential } = await createCredential(owner, { tokenId: TOKEN, clusterId: 'k3s-daas-dev', now: NOW });
    const res = await createHandler(deps)(post({ credential }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body!).kubeconfig).toContain(TOKEN);
  });

  it('401 not_owner for a credential signed by someone else', async () => {
    const { credential } = await createCredential(Ed25519Keypair.generate(), { tokenId: TOKEN, clusterId: 'k3s-daas-dev', now: NOW });
    const res = await createHandler(deps)(post({ credential }));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body!).error).toBe('not_owner');
  });

  it('401 wrong_audience for a credential bound to another cluster', async () => {
    const { credential } = await createCredential(owner, { tokenId: TOKEN, clusterId: 'other-cluster', now: NOW });
    const res = await createHandler(deps)(post({ credential }));
    expect(JSON.parse(res.body!).error).toBe('wrong_audience');
  });

  it('503 index_stale while the indexer last covered the chain longer ago than the bound, and nothing is signed', async () => {
    const { credential } = await createCredential(owner, { tokenId: TOKEN, clusterId: 'k3s-daas-dev', now: NOW });
    const current = await index.getCursor();
    await index.putCursor({ ...current!, cursor: 'stale', coveredThroughMs: NOW.getTime() - 300_001 }, current);
    const signs = kms.calls.filter((c) => c.op === 'Sign').length;
    try {
      // A container that has not read the index view yet (the shared checker holds a fresh one for its TTL).
      const checker = createTokenChecker({ index, clusterId: 'k3s-daas-dev', freshness: { maxAgeMs: 300_000 }, now: () => NOW });
      const res = await createHandler({ ...deps, checkCredential: (c) => checker.check(c) })(post({ credential }));
      expect({ status: res.statusCode, error: JSON.parse(res.body!).error }).toEqual({ status: 503, error: 'index_stale' });
      expect(kms.calls.filter((c) => c.op === 'Sign').length).toBe(signs);
    } finally {
      await index.putCursor(current!, await index.getCursor());
    }
  });
});
