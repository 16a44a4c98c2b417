// The enclave's read of the platform API (GET <api>/v1/issuer): the signing key's SPKI hash and the
// committed snapshot counter, validated; anything else is an error (the boot retries, then stops).
import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { spkiSha256 } from '../../../lambdas/shared/attestation/enclave-claims';
import { httpsPlatformClient } from '../../../enclave/src/supervisor/platform-client';

const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
const pem = key.export({ format: 'pem', type: 'spki' }).toString();

function answering(status: number, body: unknown, seen: string[] = []): typeof fetch {
  return (async (url: string | URL | Request) => {
    seen.push(String(url));
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

describe('platform client', () => {
  it('reads the signing key and the committed counter from <api>/v1/issuer (stage path kept)', async () => {
    const seen: string[] = [];
    const view = await httpsPlatformClient('https://api.example.com/prod/', answering(200, { publicKeyPem: pem, attestation: { snapshot: { seq: 4, sha256: 'ab'.repeat(32) } } }, seen)).view();
    expect(seen).toEqual(['https://api.example.com/prod/v1/issuer']);
    expect(view).toEqual({ signingKeySpkiSha256: spkiSha256(key.export({ format: 'der', type: 'spki' })), committed: { seq: 4, sha256: 'ab'.repeat(32) } });
  });

  it('no attestation or no counter yet: nothing committed', async () => {
    for (const attestation of [null, { snapshot: null }, {}]) {
      expect((await httpsPlatformClient('https://api.example.com', answering(200, { publicKeyPem: pem, attestation })).view()).committed).toBeUndefined();
    }
  });

  it.each([
    ['a non-200 answer', 503, { error: 'x' }],
    ['no public key', 200, { attestation: null }],
    ['a public key that does not parse', 200, { publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', attestation: null }],
    ['a negative sequence', 200, { publicKeyPem: pem, attestation: { snapshot: { seq: -1, sha256: 'ab'.repeat(32) } } }],
    ['a digest that is not hex', 200, { publicKeyPem: pem, attestation: { snapshot: { seq: 1, sha256: 'xyz' } } }],
  ])('refuses %s', async (_name, status, body) => {
    await expect(httpsPlatformClient('https://api.example.com', answering(status, body)).view()).rejects.toThrow(/GET \/v1\/issuer/);
  });

  it('refuses a plain-http API URL outright', () => {
    expect(() => httpsPlatformClient('http://api.example.com')).toThrow(/https/);
  });
});
