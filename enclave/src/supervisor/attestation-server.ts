// Serves attestation documents to the host agent (reached over vsock): `GET /attestation?nonce=<hex>`
// → `{document, caCertPem}` where the document's `user_data` is the enclave claims
// (lambdas/shared/attestation/enclave-claims.ts): SHA-256 of the cluster CA certificate (DER), the
// boot settings digest and the newest sealed snapshot. The host posts both to `POST /v1/attestation`,
// where the pair is verified; the host can only relay, not forge, since the NSM signs the document.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { encodeClaims, type SnapshotClaim } from '../../../lambdas/shared/attestation/enclave-claims';
import type { Attester } from './recipient';

export function caCertDer(caCertPem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(caCertPem);
  if (!match) throw new Error('cluster CA is not a PEM certificate');
  const der = Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
  new crypto.X509Certificate(der); // throws when it is not a certificate
  return der;
}

export function caSha256(caCertPem: string): Buffer {
  return crypto.createHash('sha256').update(caCertDer(caCertPem)).digest();
}

export interface AttestationServerDeps {
  attester: Attester;
  /** The cluster CA as PEM (K3s's server-ca.crt); read per request so a CA rotation is picked up. */
  readCaCertPem: () => Promise<string>;
  /** SHA-256 of the canonical boot settings (fixed for the life of the enclave). */
  settingsSha256: Buffer;
  /** The newest snapshot restored or sealed, read per request. */
  snapshot: () => SnapshotClaim;
}

export function createAttestationServer(deps: AttestationServerDeps): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://enclave');
    if (req.method !== 'GET' || url.pathname !== '/attestation') return send(404, { error: 'not_found' });
    const nonceHex = url.searchParams.get('nonce') ?? '';
    if (nonceHex !== '' && !/^([0-9a-f]{2}){1,512}$/.test(nonceHex)) return send(400, { error: 'bad_nonce', message: 'nonce must be 1-512 bytes of lowercase hex' });
    deps
      .readCaCertPem()
      .then(async (pem) => {
        const document = await deps.attester.attestation({
          userData: encodeClaims({ caSha256: caSha256(pem), settingsSha256: deps.settingsSha256, snapshot: deps.snapshot() }),
          nonce: nonceHex ? Buffer.from(nonceHex, 'hex') : undefined,
        });
        send(200, { document: Buffer.from(document).toString('base64'), caCertPem: pem });
      })
      .catch((err: Error) => send(503, { error: 'not_ready', message: err.message }));
  });
}
