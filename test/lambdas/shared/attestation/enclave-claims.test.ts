// The enclave claims (attestation user_data) and the canonical boot settings: one layout, one digest,
// shared by the enclave, the attestation route and the CLI.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  CLAIMS_BYTES,
  EnclaveSettingsError,
  NO_SNAPSHOT,
  canonicalSettings,
  decodeClaims,
  encodeClaims,
  parseClaimedSettings,
  settingsBytes,
  settingsDigest,
  webhookUrlOf,
} from '../../../../lambdas/shared/attestation/enclave-claims';
import { TEST_SETTINGS, testSettings } from '../../../support/enclave-settings';

const h = (s: string) => createHash('sha256').update(s).digest();

describe('enclave claims layout', () => {
  it('is 109 bytes: K3SD, version 1, CA hash, settings hash, seq (uint64 BE), snapshot hash', () => {
    const bytes = encodeClaims({ caSha256: h('ca'), settingsSha256: h('settings'), snapshot: { seq: 258n, sha256: h('snap') } });
    expect(bytes).toHaveLength(CLAIMS_BYTES);
    expect(bytes.subarray(0, 5)).toEqual(Buffer.from('K3SD\x01', 'latin1'));
    expect(bytes.subarray(5, 37)).toEqual(h('ca'));
    expect(bytes.subarray(37, 69)).toEqual(h('settings'));
    expect(bytes.subarray(69, 77)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 1, 2]));
    expect(bytes.subarray(77)).toEqual(h('snap'));
  });

  it('round-trips any claims', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.bigInt({ min: 1n, max: BigInt(Number.MAX_SAFE_INTEGER) }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (ca, st, seq, snap) => {
        const sha256 = Buffer.from(snap);
        fc.pre(!sha256.equals(NO_SNAPSHOT.sha256));
        const claims = { caSha256: Buffer.from(ca), settingsSha256: Buffer.from(st), snapshot: { seq, sha256 } };
        expect(decodeClaims(encodeClaims(claims))).toEqual({ ok: true, claims });
      }),
    );
  });

  it.each([
    ['no user_data', undefined],
    ['the old layout (32-byte CA hash only)', h('ca')],
    ['one byte short', encodeClaims({ caSha256: h('ca'), settingsSha256: h('s'), snapshot: NO_SNAPSHOT }).subarray(1)],
    ['another magic', Buffer.concat([Buffer.from('XXXX'), encodeClaims({ caSha256: h('ca'), settingsSha256: h('s'), snapshot: NO_SNAPSHOT }).subarray(4)])],
    ['version 2', (() => { const b = encodeClaims({ caSha256: h('ca'), settingsSha256: h('s'), snapshot: NO_SNAPSHOT }); b[4] = 2; return b; })()],
    ['seq 0 with a digest', (() => { const b = encodeClaims({ caSha256: h('ca'), settingsSha256: h('s'), snapshot: NO_SNAPSHOT }); b[100] = 1; return b; })()],
    ['a digest-less seq 5', (() => { const b = encodeClaims({ caSha256: h('ca'), settingsSha256: h('s'), snapshot: NO_SNAPSHOT }); b[76] = 5; return b; })()],
    ['a seq beyond 2^53', (() => { const b = encodeClaims({ caSha256: h('ca'), settingsSha256: h('s'), snapshot: { seq: 1n, sha256: h('x') } }); b[69] = 0xff; return b; })()],
  ])('decoding refuses %s', (_name, bytes) => {
    expect(decodeClaims(bytes).ok).toBe(false);
  });
});

describe('canonical boot settings', () => {
  it('normalises the API URL, derives the webhook URL and sorts the SANs, so equal settings hash equal', () => {
    const a = testSettings({ apiUrl: 'https://ABC123.execute-api.us-east-1.amazonaws.com/', tlsSans: ['B.example.com', 'a.example.com', 'b.example.com'] });
    const b = testSettings({ apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com', tlsSans: ['a.example.com', 'b.example.com'] });
    expect(a).toEqual(b);
    expect(settingsDigest(a)).toEqual(settingsDigest(b));
    expect(a.webhookUrl).toBe('https://abc123.execute-api.us-east-1.amazonaws.com/v1/authenticate');
    expect(webhookUrlOf('https://x.example.com/stage/')).toBe('https://x.example.com/stage/v1/authenticate');
  });

  it('every field changes the digest', () => {
    const base = settingsDigest(TEST_SETTINGS);
    for (const other of [
      testSettings({ clusterId: 'other' }),
      testSettings({ apiUrl: 'https://other.example.com' }),
      testSettings({ clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/other' }),
      testSettings({ joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/other' }),
      testSettings({ tlsSans: ['other.example.com'] }),
      testSettings({ kubeconfigSigningKeySpkiSha256: 'ab'.repeat(32) }),
    ]) {
      expect(settingsDigest(other)).not.toEqual(base);
    }
  });

  it.each([
    ['a plain-http API', { apiUrl: 'http://x.example.com' }],
    ['an API URL with credentials', { apiUrl: 'https://u:p@x.example.com' }],
    ['an API URL with a query', { apiUrl: 'https://x.example.com/?a=b' }],
    ['not a URL', { apiUrl: 'nope' }],
    ['a key alias (re-pointable)', { clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:alias/state' }],
    ['a bare key id', { joinTokenKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' }],
    ['a cluster id with a slash', { clusterId: '../x' }],
    ['no SAN', { tlsSans: [] }],
    ['a SAN that is not a host name', { tlsSans: ['evil host'] }],
    ['a short SPKI hash', { kubeconfigSigningKeySpkiSha256: 'ab' }],
  ])('refuses %s', (_name, over) => {
    expect(() => testSettings(over)).toThrow(EnclaveSettingsError);
  });

  it('claimed settings are accepted only when already canonical (what was hashed is what is used)', () => {
    expect(parseClaimedSettings(JSON.parse(settingsBytes(TEST_SETTINGS).toString('utf8')))).toEqual(TEST_SETTINGS);
    for (const claimed of [
      { ...TEST_SETTINGS, tlsSans: ['Z.example.com'] },
      { ...TEST_SETTINGS, apiUrl: `${TEST_SETTINGS.apiUrl}/` },
      { ...TEST_SETTINGS, webhookUrl: 'https://attacker.example.net/v1/authenticate' },
      { ...TEST_SETTINGS, extra: 1 },
      { ...TEST_SETTINGS, v: 2 },
      null,
      'settings',
    ]) {
      expect(parseClaimedSettings(claimed)).toBeUndefined();
    }
  });

  it('canonicalSettings accepts only what its own schema allows, for any input (never throws anything else)', () => {
    fc.assert(
      fc.property(fc.record({ clusterId: fc.string(), apiUrl: fc.string(), clusterStateKeyId: fc.string(), joinTokenKeyId: fc.string(), tlsSans: fc.array(fc.string()), kubeconfigSigningKeySpkiSha256: fc.string() }), (input) => {
        try {
          canonicalSettings(input);
        } catch (error) {
          expect(error).toBeInstanceOf(EnclaveSettingsError);
        }
      }),
    );
  });
});
