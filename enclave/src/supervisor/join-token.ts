// The worker join token: the K3s agent token in K3s's secure format, `K10<hash>::node:<password>`,
// where `node` is the user K3s creates for `--agent-token` and the hash is the SHA-256 of the server CA
// file as K3s serves it on /cacerts (PEM bytes; K3s docs, "Token Format"), so joining agents pin the
// CA. It leaves the enclave only KMS-encrypted under the join-token key with the context the node-join
// route decrypts with.
import * as crypto from 'node:crypto';
import { JOIN_TOKEN_PATTERN, joinTokenEncryptionContext } from '../../../lambdas/shared/join-token';
import type { EnclaveKms } from './kms-client';

export function formatAgentJoinToken(caCertPemBytes: Uint8Array, agentToken: string): string {
  const hash = crypto.createHash('sha256').update(caCertPemBytes).digest('hex');
  const token = `K10${hash}::node:${agentToken}`;
  if (!JOIN_TOKEN_PATTERN.test(token)) throw new Error('agent token does not fit the join token format');
  return token;
}

export async function encryptJoinToken(opts: { kms: EnclaveKms; joinTokenKeyId: string; clusterId: string; token: string }): Promise<Uint8Array> {
  return opts.kms.encrypt(opts.joinTokenKeyId, Buffer.from(opts.token, 'utf8'), joinTokenEncryptionContext(opts.clusterId));
}
