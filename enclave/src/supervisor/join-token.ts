// The worker join token: the K3s agent token in K3s's secure format, `K10<hash>::node:<password>`,
// where `node` is the user K3s creates for `--agent-token` and the hash is the SHA-256 of the server CA
// file as K3s serves it on /cacerts (PEM bytes; K3s docs, "Token Format"), so joining agents pin the
// CA. It leaves the enclave only KMS-encrypted under the join-token key with the context the node-join
// route decrypts with.
import * as crypto from 'node:crypto';
import { JOIN_TOKEN_PATTERN, joinTokenEncryptionContext } from '../../../lambdas/shared/nodes/join-token';
import type { EnclaveKms } from './kms-client';

export class JoinTokenCaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTokenCaError';
  }
}

/**
 * The node-join route only hands out a token whose hash equals SHA-256 of the attested CA re-encoded as
 * canonical PEM (`joinTokenPinsCa`), while K3s agents hash the raw /cacerts bytes. Both agree only when
 * server-ca.crt is exactly one certificate in canonical PEM; anything else (a chain, CRLF, extra text)
 * would give a token every join refuses, so it is refused here, at boot, with the reason.
 */
function checkCanonicalSingleCaPem(caCertPemBytes: Uint8Array): void {
  let canonical: string;
  try {
    canonical = new crypto.X509Certificate(Buffer.from(caCertPemBytes)).toString();
  } catch {
    throw new JoinTokenCaError('server-ca.crt is not a PEM certificate');
  }
  if (!Buffer.from(canonical, 'utf8').equals(Buffer.from(caCertPemBytes))) {
    throw new JoinTokenCaError('server-ca.crt is not exactly one certificate in canonical PEM; the node-join route could never match its hash');
  }
}

export function formatAgentJoinToken(caCertPemBytes: Uint8Array, agentToken: string): string {
  checkCanonicalSingleCaPem(caCertPemBytes);
  const hash = crypto.createHash('sha256').update(caCertPemBytes).digest('hex');
  const token = `K10${hash}::node:${agentToken}`;
  if (!JOIN_TOKEN_PATTERN.test(token)) throw new Error('agent token does not fit the join token format');
  return token;
}

export async function encryptJoinToken(opts: { kms: EnclaveKms; joinTokenKeyId: string; clusterId: string; token: string }): Promise<Uint8Array> {
  return opts.kms.encrypt(opts.joinTokenKeyId, Buffer.from(opts.token, 'utf8'), joinTokenEncryptionContext(opts.clusterId));
}
