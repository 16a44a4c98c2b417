// Verifies a `POST /v1/kubeconfig` answer against anchors the client already holds, never against
// the answering API itself (docs/attestation.md, "CLI"): the AWS Nitro root and the expected PCRs
// (pcrs.json) for the raw attestation document; the document's claims for the CA, the boot settings
// and the signing key; the settings for the API URL, the cluster id and the server host; and,
// optionally, a settings digest the user pinned. The kubeconfig is then rendered again from those
// verified parts with the one renderer and must equal the signed bytes, so nothing of the answer
// reaches the file unverified (exec command and arguments included).
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { RECORDED_PCRS } from '../attestation/cluster-attestation';
import { canonicalApiUrl, CLUSTER_ID_PATTERN, decodeClaims, parseClaimedSettings, settingsDigest, spkiSha256, type EnclaveSettings } from '../attestation/enclave-claims';
import type { ExpectedPcrs } from '../attestation/pcrs';
import { verifyAttestationDocument } from '../attestation/verify';
import { verifyKubeconfigSignature } from './kubeconfig-signature';
import { renderKubeconfig } from './kubeconfig';

export class KubeconfigAnswerError extends Error {
  /**
   * `malformed`: the answer lacks what the contract promises (the server's failure); `unverified`: it is
   * well-formed but does not verify against the anchors.
   */
  constructor(message: string, readonly kind: 'malformed' | 'unverified' = 'unverified') {
    super(message);
    this.name = 'KubeconfigAnswerError';
  }
}

export interface KubeconfigAnchors {
  /** The API URL the user asked for: the attested settings must name it. */
  apiUrl: string;
  /** The cluster the credential was made for. */
  clusterId: string;
  /** The seal token the kubeconfig's exec plugin signs for. */
  tokenId: string;
  expectedPcrs: ExpectedPcrs;
  now: Date;
  /** Oldest acceptable document (NSM time). */
  maxDocumentAgeMs: number;
  /** Trust anchor; the bundled AWS Nitro root unless given. */
  rootPem?: string;
  /** A settings digest the user pinned (first use, or published by the operator); undefined = not pinned. */
  pinnedSettingsSha256?: string;
}

export interface VerifiedKubeconfig {
  /** The kubeconfig as rendered from verified parts (byte-equal to the signed one). */
  kubeconfig: string;
  settings: EnclaveSettings;
  settingsSha256: string;
  /** NSM time of the attestation document. */
  attestedAt: string;
  snapshotSeq: bigint;
}

const fail = (message: string): never => {
  throw new KubeconfigAnswerError(message);
};
const malformed = (message: string): never => {
  throw new KubeconfigAnswerError(message, 'malformed');
};

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) malformed(`the answer has no ${what}`);
  return v as string;
}

const KUBECONFIG_SERVER_PORT = '6443';

export async function verifyKubeconfigAnswer(body: unknown, anchors: KubeconfigAnchors): Promise<VerifiedKubeconfig> {
  if (!CLUSTER_ID_PATTERN.test(anchors.clusterId)) fail(`cluster id ${JSON.stringify(anchors.clusterId)} is not 1-63 lowercase letters, digits and dashes`);
  const answer = (body ?? {}) as Record<string, unknown>;
  const kubeconfig = str(answer.kubeconfig, 'kubeconfig');
  const signature = str(answer.signature, 'signature');
  const publicKeyPem = str(answer.publicKeyPem, 'publicKeyPem');
  const attestation = (typeof answer.attestation === 'object' && answer.attestation !== null ? answer.attestation : {}) as Record<string, unknown>;
  const documentB64 = str(attestation.document, 'attestation document');
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
  // A debug-mode enclave's memory is readable by its host: never a cluster to hand kubeconfigs for, whatever pcrs.json says.
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

  // 3. The signing key is the attested one, and it signed exactly these bytes.
  let spki: Buffer;
  try {
    spki = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  } catch {
    return fail('the answer’s signing key is not a public key');
  }
  if (spkiSha256(spki) !== settings.kubeconfigSigningKeySpkiSha256) fail('the kubeconfig signing key is not the one the enclave attested');
  if (!verifyKubeconfigSignature(kubeconfig, signature, publicKeyPem)) fail('kubeconfig signature does not verify with the attested signing key');

  // 4. The parts: the CA the enclave attested, a server the attested certificate names.
  let parsed: { clusters?: { cluster?: { server?: unknown; 'certificate-authority-data'?: unknown } }[] };
  try {
    parsed = parseYaml(kubeconfig);
  } catch {
    return fail('kubeconfig is not YAML');
  }
  const clusters = parsed?.clusters ?? [];
  if (clusters.length !== 1) fail('kubeconfig must hold exactly one cluster');
  const caData = str(clusters[0]?.cluster?.['certificate-authority-data'], 'cluster CA');
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(Buffer.from(caData, 'base64'));
  } catch {
    return fail('kubeconfig CA is not a certificate');
  }
  const caSha256 = createHash('sha256').update(ca.raw).digest();
  if (!caSha256.equals(claims.caSha256)) fail('kubeconfig CA is not the attested CA');
  let server: URL;
  try {
    server = new URL(str(clusters[0]?.cluster?.server, 'server'));
  } catch {
    return fail('kubeconfig server is not a URL');
  }
  if (server.protocol !== 'https:' || server.port !== KUBECONFIG_SERVER_PORT || server.pathname !== '/' || server.username || server.search || server.hash) {
    fail(`kubeconfig server ${server.href} is not https://<host>:6443`);
  }
  if (!settings.tlsSans.includes(server.hostname.toLowerCase())) fail(`kubeconfig server ${server.hostname} is not a name in the attested apiserver certificate`);

  // 5. Render again from verified parts only; the signed bytes must be exactly that.
  const pcrs = Object.fromEntries(
    Object.entries(doc.pcrs)
      .filter(([i]) => RECORDED_PCRS.includes(Number(i)))
      .map(([i, v]) => [`PCR${i}`, v]),
  );
  let rendered: string;
  try {
    rendered = renderKubeconfig({
      clusterId: anchors.clusterId,
      serverUrl: `https://${server.hostname.toLowerCase()}:${KUBECONFIG_SERVER_PORT}`,
      caCertPem: ca.toString(),
      tokenId: anchors.tokenId,
      attestation: { pcrs, timestamp: doc.timestamp.toISOString(), caSha256: caSha256.toString('hex') },
    });
  } catch (error) {
    return fail(`kubeconfig cannot be rendered from the verified parts: ${(error as Error).message}`);
  }
  if (rendered !== kubeconfig) fail('kubeconfig differs from the one rendered from the verified parts (exec command, arguments, names or attestation summary)');

  return { kubeconfig: rendered, settings, settingsSha256: digestHex, attestedAt: doc.timestamp.toISOString(), snapshotSeq: claims.snapshot.seq };
}
