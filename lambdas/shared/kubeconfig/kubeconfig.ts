// The kubeconfig `POST /v1/kubeconfig` hands out (DESIGN §2 step 4, §4). It holds no secret: the
// server URL, the cluster CA the enclave attested, and an `exec` user that runs the credential plugin
// `k3s-daas credential`, so every kubectl request is authenticated by a fresh Sui-signed credential.
import { createHash, X509Certificate } from 'node:crypto';
import { stringify } from 'yaml';

export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';
export const CREDENTIAL_COMMAND = 'k3s-daas';
/** Name of the kubeconfig extension that carries the attestation summary under the KMS signature. */
export const ATTESTATION_EXTENSION = 'k3s-daas.io/attestation';

/** What the platform verified about the enclave whose CA this kubeconfig trusts (DESIGN §4). */
export interface AttestationSummary {
  /** `PCR<n>` → lowercase hex. */
  readonly pcrs: Record<string, string>;
  /** NSM time of the document, ISO 8601. */
  readonly timestamp: string;
  /** SHA-256 (hex) of the CA certificate's DER, as bound in the document's `user_data` (enclave-claims.ts). */
  readonly caSha256: string;
}

export interface KubeconfigInput {
  readonly clusterId: string;
  /** `https://<host>:6443` */
  readonly serverUrl: string;
  /** The attested cluster CA certificate, PEM. */
  readonly caCertPem: string;
  /** Seal token object id the credential plugin signs for. */
  readonly tokenId: string;
  /** Embedded as a kubeconfig extension so the signature covers it too. */
  readonly attestation: AttestationSummary;
}

export class KubeconfigInputError extends Error {}

/** Arguments of the credential plugin, exactly as `k3s-daas credential` parses them. */
export function credentialExecArgs(tokenId: string, clusterId: string): string[] {
  return ['credential', '--token', tokenId, '--cluster', clusterId];
}

/** The server as written: scheme and host lowercased by URL parsing (an NLB name may arrive in mixed case), no trailing slash. */
function canonicalServer(serverUrl: string): string {
  const url = new URL(serverUrl);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

function check(input: KubeconfigInput): void {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.clusterId)) throw new KubeconfigInputError('clusterId must be 1-63 lowercase letters, digits and dashes');
  if (!/^0x[0-9a-f]{64}$/.test(input.tokenId)) throw new KubeconfigInputError('tokenId must be 0x followed by 64 lowercase hex characters');
  let url: URL;
  try {
    url = new URL(input.serverUrl);
  } catch {
    throw new KubeconfigInputError('serverUrl is not a URL');
  }
  if (url.protocol !== 'https:') throw new KubeconfigInputError('serverUrl must be https');
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(input.caCertPem);
  } catch {
    throw new KubeconfigInputError('caCertPem is not a PEM certificate');
  }
  if (createHash('sha256').update(ca.raw).digest('hex') !== input.attestation.caSha256) {
    throw new KubeconfigInputError('caCertPem is not the attested CA (caSha256 differs)');
  }
}

/**
 * Renders the kubeconfig YAML. Deterministic for the same input, so a signature over its bytes can be
 * checked against a re-render. `interactiveMode: Never`: the plugin reads its key from
 * `SUI_PRIVATE_KEY` or the Sui keystore and never prompts, so it also works without a terminal.
 */
export function renderKubeconfig(input: KubeconfigInput): string {
  check(input);
  const name = input.clusterId;
  const user = `${input.clusterId}-${input.tokenId.slice(0, 10)}`;
  return stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name,
          cluster: {
            server: canonicalServer(input.serverUrl),
            'certificate-authority-data': Buffer.from(new X509Certificate(input.caCertPem).toString(), 'utf8').toString('base64'),
          },
        },
      ],
      users: [
        {
          name: user,
          user: {
            exec: {
              apiVersion: EXEC_API_VERSION,
              command: CREDENTIAL_COMMAND,
              args: credentialExecArgs(input.tokenId, input.clusterId),
              interactiveMode: 'Never',
              provideClusterInfo: false,
              installHint: 'Install the k3s-daas CLI and put it on PATH; it signs short-lived credentials with your Sui key.',
            },
          },
        },
      ],
      contexts: [{ name, context: { cluster: name, user } }],
      'current-context': name,
      preferences: {},
      extensions: [
        {
          name: ATTESTATION_EXTENSION,
          extension: { pcrs: input.attestation.pcrs, timestamp: input.attestation.timestamp, caSha256: input.attestation.caSha256 },
        },
      ],
    },
    { lineWidth: 0 },
  );
}
