// The cluster's long-lived secrets (K3s server token, agent token) and the settings pinned at first
// boot. First boot: generated from NSM randomness and sealed under the cluster-state key. Later boots:
// unsealed, which only the measured image can do (the key policy checks the recipient attestation).
// The sealed blob is stored by the untrusted host; losing it while a datastore snapshot exists is an
// error, never a reason to mint new tokens (the snapshot's bootstrap data is keyed to the old token).
import { z } from 'zod';
import { seal, unseal } from './envelope';
import type { EnclaveKms } from './kms-client';

export const ClusterSecretsSchema = z
  .object({
    serverToken: z.string().regex(/^[0-9a-f]{64}$/),
    agentToken: z.string().regex(/^[0-9a-f]{64}$/),
    /** Pinned at first boot (trust on first use): later boots refuse a host that points elsewhere. */
    clusterId: z.string().min(1),
    apiUrl: z.url(),
    /** The key the agent token is encrypted to for the join route: the host must not swap in a key it can decrypt. */
    joinTokenKeyId: z.string().min(1),
    createdAt: z.iso.datetime(),
  })
  .strict();

export type ClusterSecrets = z.infer<typeof ClusterSecretsSchema>;

export interface BlobStore {
  get(): Promise<Uint8Array | undefined>;
  put(bytes: Uint8Array): Promise<void>;
}

export class SealedSecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedSecretsError';
  }
}

export const secretsContext = (clusterId: string) => ({ cluster: clusterId, purpose: 'k3s-daas-cluster-secrets' });

export async function loadOrCreateClusterSecrets(opts: {
  kms: EnclaveKms;
  keyId: string;
  clusterId: string;
  apiUrl: string;
  joinTokenKeyId: string;
  store: BlobStore;
  random: (length: number) => Uint8Array;
  /** True when a datastore snapshot exists: then the secrets must exist too. */
  snapshotExists: boolean;
  now?: () => Date;
}): Promise<{ secrets: ClusterSecrets; created: boolean }> {
  const context = secretsContext(opts.clusterId);
  const sealed = await opts.store.get();
  if (sealed) {
    const opened = await unseal(opts.kms, context, sealed, opts.keyId);
    const parsed = ClusterSecretsSchema.safeParse(JSON.parse(opened.toString('utf8')));
    if (!parsed.success) throw new SealedSecretsError('unsealed cluster secrets have an unexpected shape');
    const secrets = parsed.data;
    if (secrets.clusterId !== opts.clusterId) throw new SealedSecretsError(`sealed secrets belong to cluster ${secrets.clusterId}, not ${opts.clusterId}`);
    if (secrets.apiUrl !== opts.apiUrl) {
      throw new SealedSecretsError(`the host names API ${opts.apiUrl} but this cluster was sealed with ${secrets.apiUrl}; refusing to redirect authentication`);
    }
    if (secrets.joinTokenKeyId !== opts.joinTokenKeyId) {
      throw new SealedSecretsError(
        `the host names join-token key ${opts.joinTokenKeyId} but this cluster was sealed with ${secrets.joinTokenKeyId}; refusing to hand the agent token to another key`,
      );
    }
    return { secrets, created: false };
  }
  if (opts.snapshotExists) {
    throw new SealedSecretsError('a datastore snapshot exists but the sealed cluster secrets are missing; refusing to mint new tokens');
  }
  const hex = (n: number) => Buffer.from(opts.random(n)).toString('hex');
  const secrets: ClusterSecrets = {
    serverToken: hex(32),
    agentToken: hex(32),
    clusterId: opts.clusterId,
    apiUrl: opts.apiUrl,
    joinTokenKeyId: opts.joinTokenKeyId,
    createdAt: (opts.now?.() ?? new Date()).toISOString(),
  };
  if (secrets.serverToken === secrets.agentToken) throw new SealedSecretsError('random source returned repeating output');
  await opts.store.put(await seal(opts.kms, opts.keyId, context, Buffer.from(JSON.stringify(secrets))));
  return { secrets, created: true };
}
