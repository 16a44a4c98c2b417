// Relays the enclave's attestation to the platform: asks the enclave for a fresh document (with a
// random nonce so replays are recognizable) and posts it with the CA to `POST /v1/attestation`, signed
// with SigV4 (service `execute-api`) under the master role's instance credentials.
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import * as crypto from 'node:crypto';
import { z } from 'zod';

const EnclaveAttestationSchema = z.object({ document: z.base64().min(1), caCertPem: z.string().includes('BEGIN CERTIFICATE') }).strict();

export type EnclaveAttestation = z.infer<typeof EnclaveAttestationSchema>;

export async function fetchEnclaveAttestation(enclaveUrl: string, nonce: Uint8Array, fetchImpl: typeof fetch = fetch): Promise<EnclaveAttestation> {
  const url = new URL('/attestation', enclaveUrl);
  url.searchParams.set('nonce', Buffer.from(nonce).toString('hex'));
  const res = await fetchImpl(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`enclave attestation server answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return EnclaveAttestationSchema.parse(await res.json());
}

/** Builds the signed request (exported so tests can check the signature without a network). */
export async function signedAttestationRequest(opts: {
  apiUrl: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  body: string;
  now?: Date;
}): Promise<HttpRequest> {
  const base = new URL(opts.apiUrl);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const url = new URL('v1/attestation', base);
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/json' },
    body: opts.body,
  });
  const signer = new SignatureV4({ service: 'execute-api', region: opts.region, credentials: opts.credentials, sha256: Sha256 });
  return (await signer.sign(request, { signingDate: opts.now })) as HttpRequest;
}

export async function postAttestation(opts: {
  apiUrl: string;
  region: string;
  credentials: AwsCredentialIdentityProvider;
  attestation: EnclaveAttestation;
  fetchImpl?: typeof fetch;
}): Promise<void> {
  const body = JSON.stringify({ document: opts.attestation.document, caCertPem: opts.attestation.caCertPem });
  const signed = await signedAttestationRequest({ apiUrl: opts.apiUrl, region: opts.region, credentials: opts.credentials, body });
  const port = signed.port ? `:${signed.port}` : '';
  const headers = { ...signed.headers };
  delete headers.host; // fetch sets Host itself from the URL, identical to the signed value
  const res = await (opts.fetchImpl ?? fetch)(`${signed.protocol}//${signed.hostname}${port}${signed.path}`, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 204 && res.status !== 200) throw new Error(`POST /v1/attestation answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
}

/** One fetch-and-post round. */
export async function relayAttestation(opts: {
  enclaveUrl: string;
  apiUrl: string;
  region: string;
  credentials: AwsCredentialIdentityProvider;
  fetchImpl?: typeof fetch;
}): Promise<void> {
  const attestation = await fetchEnclaveAttestation(opts.enclaveUrl, crypto.randomBytes(32), opts.fetchImpl);
  await postAttestation({ ...opts, attestation });
}
