// Verifies a `POST /v1/nodes/external/join` answer (issue 15) on the operator's machine, against anchors
// the operator already holds, never against the answering API: the attestation detail with the check the
// kubeconfig answer uses (../attestation/attested-answer.ts); the CA certificate is the one the enclave
// attested and the bootstrap token's K10 hash pins exactly it (so the agent trusts the attested cluster,
// not the API's word); the server is a name the attested apiserver certificate carries; the K3s version is
// the pinned release; the node name, labels and taints are well-formed, the stake labels name the stake of
// the operator's own seal token, and the external marks (node-kind label, NoSchedule taint) are present.
import { X509Certificate, createHash } from 'node:crypto';
import {
  fail, malformed, requiredString, verifyAttestedCluster, verifyAttestedServer, type AttestationAnchors, type AttestedCluster,
} from '../attestation/attested-answer';
import { caPemSha256, JOIN_TOKEN_PATTERN } from './join-token';
import { EXTERNAL_NODE_TAINT, NODE_KIND_LABEL, STAKE_ID_HI_LABEL, STAKE_ID_LO_LABEL, stakeIdLabels } from './node-labels';

/** Labels the platform sets live under its own prefix; an answer naming any other label is refused. */
const PLATFORM_LABEL_PREFIX = 'k3s-daas.io/';

/** A node name is a DNS-1123 label (it becomes a label value and a Secret name). */
export const NODE_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Kubernetes label value: at most 63 characters, alphanumeric at both ends. */
const LABEL_VALUE_PATTERN = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** `<prefix>/<name>` with a DNS subdomain prefix and a qualified name. */
const LABEL_KEY_PATTERN = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** `key[=value]:Effect`, as kubelet's --register-with-taints (and K3s's node-taint) take it. */
const TAINT_PATTERN = /^([^=:\s]+)(=([^=:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/;

export interface JoinAnchors extends AttestationAnchors {
  /** The stake of the seal token the join credential was signed for (read from the chain). */
  stakeId: string;
  /** The pinned K3s release the agent will run. */
  k3sVersion: string;
  /**
   * The CA bundle the verified server serves on /cacerts, for an answer that carries no `caCertPem`: the
   * bytes the agent will hash against the token, checked here the same way.
   */
  fetchCaBundle?: (server: URL) => Promise<string>;
}

export interface VerifiedJoin {
  server: string;
  /** `K10<sha256 of the attested CA PEM>::<id>.<secret>`: a secret, never printed. */
  token: string;
  expiresAt: string;
  nodeName: string;
  labels: Record<string, string>;
  taints: string[];
  k3sVersion: string;
  /** SHA-256 (hex) of the attested CA certificate's DER, as the enclave attests it. */
  caSha256: string;
  attested: AttestedCluster;
}

function labelsOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return malformed('the answer has no labels');
  const labels: Record<string, string> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') return malformed(`label ${JSON.stringify(key.slice(0, 80))} is not a string`);
    if (!LABEL_KEY_PATTERN.test(key) || key.length > 253 + 1 + 63) fail(`label key ${JSON.stringify(key.slice(0, 80))} is not a Kubernetes label key`);
    if (!key.startsWith(PLATFORM_LABEL_PREFIX)) fail(`label ${key} is not one the platform sets (${PLATFORM_LABEL_PREFIX}*)`);
    if (!LABEL_VALUE_PATTERN.test(v)) fail(`label ${key} has a value that is not a Kubernetes label value`);
    labels[key] = v;
  }
  return labels;
}

function taintsOf(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) return malformed('the answer has no taints list');
  for (const taint of value as string[]) {
    const m = TAINT_PATTERN.exec(taint);
    if (!m || !LABEL_KEY_PATTERN.test(m[1]) || (m[3] !== undefined && !LABEL_VALUE_PATTERN.test(m[3]))) fail(`taint ${JSON.stringify(taint.slice(0, 80))} is not key[=value]:Effect`);
  }
  return value as string[];
}

/** A CA bundle the agent may trust: exactly one PEM certificate, nothing else. */
const SINGLE_PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;

/** The CA bundle the answer carries (`caCertPem`, top level or in the attestation detail), if any. */
function caPemOf(answer: Record<string, unknown>): string | undefined {
  const attestation = (typeof answer.attestation === 'object' && answer.attestation !== null ? answer.attestation : {}) as Record<string, unknown>;
  const pem = answer.caCertPem ?? attestation.caCertPem;
  return pem === undefined ? undefined : requiredString(pem, 'CA certificate (caCertPem)');
}

export async function verifyJoinAnswer(body: unknown, anchors: JoinAnchors): Promise<VerifiedJoin> {
  const answer = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const token = requiredString(answer.token, 'token');
  const nodeName = requiredString(answer.nodeName, 'nodeName');
  const expiresAt = requiredString(answer.expiresAt, 'expiresAt');
  const k3sVersion = requiredString(answer.k3sVersion, 'k3sVersion');
  const labels = labelsOf(answer.labels);
  const taints = taintsOf(answer.taints);

  // 1-2. The document against the operator's anchors; the settings are the attested ones and name what was asked.
  const attested = await verifyAttestedCluster(answer.attestation, anchors);

  // 3. The server is a name of the attested apiserver certificate.
  const server = verifyAttestedServer(answer.server, attested.settings, 'join server');

  // 4. The CA is the attested one, and the token makes the agent trust exactly it (one certificate, no other).
  const bundle = caPemOf(answer) ?? (anchors.fetchCaBundle ? await anchors.fetchCaBundle(server) : malformed('the answer has no CA certificate (caCertPem)'));
  if (!SINGLE_PEM_CERTIFICATE.test(bundle)) fail('the CA bundle is not exactly one PEM certificate');
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(bundle);
  } catch {
    return fail('the CA bundle is not a certificate');
  }
  const caSha256 = createHash('sha256').update(ca.raw).digest();
  if (!caSha256.equals(attested.claims.caSha256)) fail('the answer’s CA is not the CA the enclave attested');
  if (!JOIN_TOKEN_PATTERN.test(token)) fail('the join token is not K10<sha256>::<id>.<secret>');
  // K3s hashes the CA bundle as /cacerts serves it; the platform keeps it as canonical PEM (what X509Certificate prints).
  const pinnedHash = token.slice(3, 67);
  if (pinnedHash !== createHash('sha256').update(bundle, 'utf8').digest('hex') && pinnedHash !== caPemSha256(ca.toString())) {
    fail('the join token does not pin the attested CA');
  }

  // 5. The release, the node's identity and the marks an external node must carry.
  if (k3sVersion !== anchors.k3sVersion) fail(`the answer asks for K3s ${k3sVersion.slice(0, 40)}, not the pinned ${anchors.k3sVersion}`);
  const expiry = Date.parse(expiresAt);
  if (!Number.isFinite(expiry)) malformed('the answer’s expiresAt is not a time');
  if (expiry <= anchors.now.getTime()) fail(`the join token expired at ${expiresAt}`);
  if (!NODE_NAME_PATTERN.test(nodeName)) fail(`node name ${JSON.stringify(nodeName.slice(0, 80))} is not a DNS-1123 label of at most 63 characters`);
  const stake = stakeIdLabels(anchors.stakeId);
  if (labels[STAKE_ID_HI_LABEL] !== stake[STAKE_ID_HI_LABEL] || labels[STAKE_ID_LO_LABEL] !== stake[STAKE_ID_LO_LABEL]) fail(`the answer’s stake labels do not name your token’s stake ${anchors.stakeId}`);
  if (labels[NODE_KIND_LABEL] !== 'external') fail(`the answer does not label the node ${NODE_KIND_LABEL}=external`);
  if (!taints.includes(EXTERNAL_NODE_TAINT)) fail(`the answer does not taint the node ${EXTERNAL_NODE_TAINT}`);

  return {
    server: `https://${server.hostname.toLowerCase()}:${server.port}`,
    token,
    expiresAt: new Date(expiry).toISOString(),
    nodeName,
    labels,
    taints,
    k3sVersion,
    caSha256: caSha256.toString('hex'),
    attested,
  };
}
