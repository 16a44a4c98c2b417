// Verifies a `POST /v1/kubeconfig` answer against anchors the client already holds, never against
// the answering API itself (docs/attestation.md, "CLI"): the attestation detail (document, PCRs, claims,
// settings, pin) with the check every attested answer shares (../attestation/attested-answer.ts); then
// the signing key the settings attest, the CA the enclave attested, and a server the attested certificate
// names. The kubeconfig is then rendered again from those verified parts with the one renderer and must
// equal the signed bytes, so nothing of the answer reaches the file unverified (exec command and arguments
// included).
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import {
  AttestedAnswerError, fail, K3S_SERVER_PORT, requiredString as str, verifyAttestedCluster, verifyAttestedServer, type AttestationAnchors,
} from '../attestation/attested-answer';
import { RECORDED_PCRS } from '../attestation/cluster-attestation';
import { spkiSha256, type EnclaveSettings } from '../attestation/enclave-claims';
import { verifyKubeconfigSignature } from './kubeconfig-signature';
import { renderKubeconfig } from './kubeconfig';

/** The error of every attested-answer check (`kind`: malformed = the server's failure, unverified = not trusted). */
export { AttestedAnswerError as KubeconfigAnswerError };

export interface KubeconfigAnchors extends AttestationAnchors {
  /** The seal token the kubeconfig's exec plugin signs for. */
  tokenId: string;
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

export async function verifyKubeconfigAnswer(body: unknown, anchors: KubeconfigAnchors): Promise<VerifiedKubeconfig> {
  const answer = (body ?? {}) as Record<string, unknown>;
  const kubeconfig = str(answer.kubeconfig, 'kubeconfig');
  const signature = str(answer.signature, 'signature');
  const publicKeyPem = str(answer.publicKeyPem, 'publicKeyPem');
  // 1-2. The document against the user's anchors; the settings are the attested ones and name what was asked.
  const { document: doc, claims, settings, settingsSha256: digestHex } = await verifyAttestedCluster(answer.attestation, anchors);

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
  const server = verifyAttestedServer(clusters[0]?.cluster?.server, settings, 'kubeconfig server');

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
      serverUrl: `https://${server.hostname.toLowerCase()}:${K3S_SERVER_PORT}`,
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
