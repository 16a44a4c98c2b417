// The part every verified answer of the platform shares (the kubeconfig answer, the external node join
// answer): its `attestation` detail checked against anchors the client already holds, never against the
// answering API (docs/attestation.md, "CLI"). The raw attestation document against the AWS Nitro root and
// the expected PCRs (pcrs.json); its claims decoded; the settings the answer carries must be the attested
// ones and name the API URL and cluster the client asked for, and match a settings digest the user pinned.
// Also the one rule for a K3s server URL an answer names: https, port 6443, a host the attested
// apiserver certificate names.
import { canonicalApiUrl, CLUSTER_ID_PATTERN, decodeClaims, parseClaimedSettings, settingsDigest, type EnclaveClaims, type EnclaveSettings } from './enclave-claims';
import type { ExpectedPcrs } from './pcrs';
import { verifyAttestationDocument, type AttestationDocument } from './verify';

export class AttestedAnswerError extends Error {
  /**
   * `malformed`: the answer lacks what the contract promises (the server's failure); `unverified`: it is
   * well-formed but does not verify against the anchors.
   */
  constructor(message: string, readonly kind: 'malformed' | 'unverified' = 'unverified') {
    super(message);
    this.name = 'AttestedAnswerError';
  }
}

export interface AttestationAnchors {
  /** The API URL the user asked for: the attested settings must name it. */
  apiUrl: string;
  /** The cluster the credential was made for. */
  clusterId: string;
  expectedPcrs: ExpectedPcrs;
  now: Date;
  /** Oldest acceptable document (NSM time). */
  maxDocumentAgeMs: number;
  /** Trust anchor; the bundled AWS Nitro root unless given. */
  rootPem?: string;
  /** A settings digest the user pinned (first use, or published by the operator); undefined = not pinned. */
  pinnedSettingsSha256?: string;
}

export interface AttestedCluster {
  document: AttestationDocument;
  claims: EnclaveClaims;
  settings: EnclaveSettings;
  /** Hex SHA-256 of the canonical settings (what a pin holds). */
  settingsSha256: string;
  /** NSM time of the attestation document. */
  attestedAt: string;
}

export const fail = (message: string): never => {
  throw new AttestedAnswerError(message);
};
export const malformed = (message: string): never => {
  throw new AttestedAnswerError(message, 'malformed');
};

/** A non-empty string field of an answer, or the answer is malformed. */
export function requiredString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) malformed(`the answer has no ${what}`);
  return v as string;
}

/** The port every K3s server URL of an answer uses. */
export const K3S_SERVER_PORT = '6443';

/** Verifies an answer's `attestation` detail (document, settings) against the client's anchors. */
export async function verifyAttestedCluster(attestationDetail: unknown, anchors: AttestationAnchors): Promise<AttestedCluster> {
  if (!CLUSTER_ID_PATTERN.test(anchors.clusterId)) fail(`cluster id ${JSON.stringify(anchors.clusterId)} is not 1-63 lowercase letters, digits and dashes`);
  const attestation = (typeof attestationDetail === 'object' && attestationDetail !== null ? attestationDetail : {}) as Record<string, unknown>;
  const documentB64 = requiredString(attestation.document, 'attestation document');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(documentB64) || documentB64.length % 4 !== 0) malformed('the attestation document is not base64');

  // 1. The raw document, against the user's own anchors.
  const verdict = await verifyAttestationDocument(Buffer.from(documentB64, 'base64'), {
    expectedPcrs: anchors.expectedPcrs,
    at: anchors.now,
    maxAgeMs: anchors.maxDocumentAgeMs,
    rootPem: anchors.rootPem,
  });
  if (!verdict.ok) fail(`attestation rejected: ${verdict.reason}: ${verdict.message}`);
  const doc = (verdict as Extract<typeof verdict, { ok: true }>).document;
  // A debug-mode enclave's memory is readable by its host: never a cluster to trust, whatever pcrs.json says.
  if (doc.debugMode) fail('attestation rejected: debug_mode: the enclave runs in debug mode (PCR0-2 are zero), its host can read it');
  const decoded = decodeClaims(doc.userData);
  if (!decoded.ok) fail(`attestation rejected: ${decoded.message}`);
  const { claims } = decoded as Extract<typeof decoded, { ok: true }>;

  // 2. The settings the answer claims are the attested ones, and name what the user asked for.
  const settings = parseClaimedSettings(attestation.settings) ?? malformed('the answer carries no canonical enclave settings');
  const digest = settingsDigest(settings);
  if (!digest.equals(claims.settingsSha256)) fail('the settings in the answer are not the ones the enclave attested');
  let askedApi: string;
  try {
    askedApi = canonicalApiUrl(anchors.apiUrl);
  } catch {
    askedApi = anchors.apiUrl;
  }
  if (settings.apiUrl !== askedApi) fail(`the attested enclave authenticates against ${settings.apiUrl}, not ${askedApi}`);
  if (settings.clusterId !== anchors.clusterId) fail(`the attested enclave runs cluster ${settings.clusterId}, not ${anchors.clusterId}`);
  const digestHex = digest.toString('hex');
  if (anchors.pinnedSettingsSha256 !== undefined && anchors.pinnedSettingsSha256.toLowerCase() !== digestHex) {
    fail(`the attested settings ${digestHex} differ from the pinned ${anchors.pinnedSettingsSha256.toLowerCase()} (cluster-state key ${settings.clusterStateKeyId})`);
  }
  return { document: doc, claims, settings, settingsSha256: digestHex, attestedAt: doc.timestamp.toISOString() };
}

/** `raw` as a K3s server URL the attested settings allow: `https://<a tlsSans host>:6443`, nothing more. */
export function verifyAttestedServer(raw: unknown, settings: EnclaveSettings, what: string): URL {
  let server: URL;
  try {
    server = new URL(requiredString(raw, 'server'));
  } catch (error) {
    if (error instanceof AttestedAnswerError) throw error;
    return fail(`${what} is not a URL`);
  }
  if (server.protocol !== 'https:' || server.port !== K3S_SERVER_PORT || server.pathname !== '/' || server.username || server.password || server.search || server.hash) {
    fail(`${what} ${server.href} is not https://<host>:6443`);
  }
  if (!settings.tlsSans.includes(server.hostname.toLowerCase())) fail(`${what} ${server.hostname} is not a name in the attested apiserver certificate`);
  return server;
}
