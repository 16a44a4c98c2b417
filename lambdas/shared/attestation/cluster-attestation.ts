// What the platform accepts as the cluster's attestation (DESIGN §2 step 5): a Nitro document that
// verifies against the pinned root and the expected PCRs, fresh, whose `user_data` holds the enclave
// claims (enclave-claims.ts): the SHA-256 of the cluster CA certificate (DER) posted beside it, the
// digest of the platform's own boot settings, and the newest sealed snapshot. The result is the record
// kubeconfigs are built from.
import { createHash, X509Certificate } from 'node:crypto';
import type { AttestationRecord } from '../index/index-model';
import type { ExpectedPcrs } from './pcrs';
import { decodeClaims, type EnclaveSettings } from './enclave-claims';
import { verifyAttestationDocument, type AttestationFailureReason } from './verify';

/** Attestation documents are at most ~5 KiB; a cluster CA is a few hundred bytes (it is stored in the record). */
export const MAX_DOCUMENT_BYTES = 12 * 1024;
export const MAX_CA_CERT_DER_BYTES = 2048;

export type ClusterAttestationReason = AttestationFailureReason | 'invalid_ca_certificate' | 'user_data_mismatch' | 'settings_mismatch';

export type ClusterAttestationResult = { ok: true; record: AttestationRecord } | { ok: false; reason: ClusterAttestationReason; message: string };

export interface ClusterAttestationOptions {
  expectedPcrs: ExpectedPcrs;
  now: Date;
  /** How old a posted document may be (NSM time). */
  maxDocumentAgeMs: number;
  rootPem?: string;
  /** The platform's canonical settings and their digest: the document must attest exactly these. */
  platformSettings: { settings: EnclaveSettings; digest: Buffer };
}

/**
 * PCRs kept in the record and summaries: image, kernel, application, parent IAM role, parent
 * instance, signing certificate. The others are zero on Nitro and would only add bytes.
 */
export const RECORDED_PCRS = [0, 1, 2, 3, 4, 8];

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export async function verifyClusterAttestation(
  input: { document: string; caCertPem: string },
  options: ClusterAttestationOptions,
): Promise<ClusterAttestationResult> {
  if (!BASE64.test(input.document) || input.document.length % 4 !== 0) {
    return { ok: false, reason: 'malformed', message: 'document is not base64' };
  }
  const documentBytes = Buffer.from(input.document, 'base64');
  if (documentBytes.length === 0 || documentBytes.length > MAX_DOCUMENT_BYTES) {
    return { ok: false, reason: 'malformed', message: `document must be 1 to ${MAX_DOCUMENT_BYTES} bytes` };
  }
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(input.caCertPem);
  } catch {
    return { ok: false, reason: 'invalid_ca_certificate', message: 'caCertPem is not a PEM certificate' };
  }
  if (!ca.ca || ca.raw.length > MAX_CA_CERT_DER_BYTES) {
    return { ok: false, reason: 'invalid_ca_certificate', message: `caCertPem must be a CA certificate of at most ${MAX_CA_CERT_DER_BYTES} bytes` };
  }
  const result = await verifyAttestationDocument(documentBytes, {
    expectedPcrs: options.expectedPcrs,
    at: options.now,
    maxAgeMs: options.maxDocumentAgeMs,
    rootPem: options.rootPem,
  });
  if (!result.ok) return result;
  const caSha256 = createHash('sha256').update(ca.raw).digest();
  const decoded = decodeClaims(result.document.userData);
  if (!decoded.ok) return { ok: false, reason: 'user_data_mismatch', message: decoded.message };
  const { claims } = decoded;
  if (!claims.caSha256.equals(caSha256)) {
    return { ok: false, reason: 'user_data_mismatch', message: 'user_data does not bind the SHA-256 of the posted CA certificate' };
  }
  if (!claims.settingsSha256.equals(options.platformSettings.digest)) {
    return {
      ok: false,
      reason: 'settings_mismatch',
      message: `the enclave was booted with settings ${claims.settingsSha256.toString('hex')}, not this platform's ${options.platformSettings.digest.toString('hex')}`,
    };
  }
  return {
    ok: true,
    record: {
      pcrs: Object.fromEntries(
        Object.entries(result.document.pcrs)
          .filter(([i]) => RECORDED_PCRS.includes(Number(i)))
          .map(([i, v]) => [`PCR${i}`, v]),
      ),
      caSha256: caSha256.toString('hex'),
      caCertPem: ca.toString(),
      moduleId: result.document.moduleId,
      timestamp: result.document.timestamp.toISOString(),
      verifiedAt: options.now.toISOString(),
      settingsSha256: claims.settingsSha256.toString('hex'),
      settings: options.platformSettings.settings,
      snapshotSeq: Number(claims.snapshot.seq),
      snapshotSha256: claims.snapshot.sha256.toString('hex'),
      document: documentBytes.toString('base64'),
    },
  };
}

// The read side (summaries of a stored record) lives apart from the verifier so the issuer and kubeconfig
// bundles do not load the document verifier (CBOR, certificate chain) they never run.
export { attestationDetail, attestationSummary, namedPcrs, pcrsMatch } from './attestation-view';
