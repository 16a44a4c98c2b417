// The enclave's own view of the platform API, over TLS end to end: the host only forwards TCP
// (127.0.0.3:443 → vsock 8001 → vsock-proxy → the API), and Node verifies the API's certificate
// against its bundled roots for the API's real host name (/etc/hosts maps it to the bridge). So what
// this returns comes from the platform at the pinned API URL, not from the host: the kubeconfig
// signing key (its SPKI hash is part of the attested settings) and the committed snapshot counter.
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { canonicalApiUrl, spkiSha256 } from '../../../lambdas/shared/attestation/enclave-claims';

const HEX64 = /^[0-9a-f]{64}$/;

const IssuerAnswerSchema = z.object({
  publicKeyPem: z.string().includes('BEGIN PUBLIC KEY'),
  attestation: z
    .object({
      snapshot: z.object({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), sha256: z.string().regex(HEX64) }).nullable().optional(),
    })
    .nullable(),
});

export interface CommittedSnapshot {
  seq: number;
  sha256: string;
}

export interface PlatformView {
  /** SHA-256 (hex) of the kubeconfig signing key's DER SPKI. */
  signingKeySpkiSha256: string;
  /** The platform's committed snapshot counter; undefined when it holds none (first boot, or an operator reset). */
  committed: CommittedSnapshot | undefined;
}

export interface PlatformClient {
  view(): Promise<PlatformView>;
}

export function httpsPlatformClient(apiUrl: string, fetchImpl: typeof fetch = fetch): PlatformClient {
  const url = new URL(`${canonicalApiUrl(apiUrl)}/v1/issuer`);
  return {
    async view() {
      const res = await fetchImpl(url, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`GET ${url.pathname} answered ${res.status}`);
      const parsed = IssuerAnswerSchema.safeParse(await res.json());
      if (!parsed.success) throw new Error(`GET ${url.pathname} answered an unexpected shape`);
      let spki: Buffer;
      try {
        spki = createPublicKey(parsed.data.publicKeyPem).export({ format: 'der', type: 'spki' });
      } catch {
        throw new Error(`GET ${url.pathname} answered a public key that does not parse`);
      }
      const snapshot = parsed.data.attestation?.snapshot ?? undefined;
      return { signingKeySpkiSha256: spkiSha256(spki), committed: snapshot ? { seq: snapshot.seq, sha256: snapshot.sha256 } : undefined };
    },
  };
}
