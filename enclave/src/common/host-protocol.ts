// The control API between the supervisor (client, inside the enclave) and the host agent (server, on
// the parent) over vsock port 8002. The host is untrusted: everything it returns is validated, and
// nothing it stores is plaintext (sealed secrets and snapshots are enclave-sealed envelopes; bootstrap
// token secrets are KMS ciphertext only the join route can open).
import { z } from 'zod';
import { BOOTSTRAP_TOKEN_ID_PATTERN } from '../../../lambdas/shared/nodes/join-token';

export const HOST_PATHS = {
  boot: '/v1/boot',
  credentials: '/v1/credentials',
  sealedSecrets: '/v1/sealed-secrets',
  snapshots: '/v1/snapshots',
  latestSnapshot: '/v1/snapshots/latest',
  /** GET: the pool entries the index holds; PUT: add one entry; DELETE `/v1/bootstrap-tokens/<id>`: retire one. */
  bootstrapTokens: '/v1/bootstrap-tokens',
} as const;

export const CredentialsSchema = z
  .object({
    accessKeyId: z.string().min(16),
    secretAccessKey: z.string().min(1),
    sessionToken: z.string().min(1).optional(),
    expiration: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export type HostCredentials = z.infer<typeof CredentialsSchema>;

export const BootSettingsSchema = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-[0-9]$/),
    clusterId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
    clusterStateKeyId: z.string().min(1),
    joinTokenKeyId: z.string().min(1),
    apiUrl: z.url({ protocol: /^https$/ }),
    tlsSans: z.array(z.string().min(1)).max(10),
    webhookSecret: z.string().min(16),
    snapshotIntervalSeconds: z.number().int().min(60).max(86_400),
  })
  .strict();

export type BootSettings = z.infer<typeof BootSettingsSchema>;

/** A bootstrap-token pool entry as it crosses the host (join-token.ts `BootstrapPoolEntry`). */
export const BootstrapPoolEntrySchema = z
  .object({
    tokenId: z.string().regex(BOOTSTRAP_TOKEN_ID_PATTERN),
    expiresAt: z.iso.datetime(),
    caSha256: z.string().regex(/^[0-9a-f]{64}$/),
    ciphertext: z.base64().min(1).max(4096),
  })
  .strict();

/** GET answer: entries only; the enclave keeps its own ledger and treats this list as a hint. */
export const BootstrapPoolListingSchema = z.object({ entries: z.array(BootstrapPoolEntrySchema).max(1000) }).strict();

/** Largest body the host agent accepts (sealed etcd snapshots of a small cluster fit easily). */
export const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;
export const MAX_SMALL_BODY_BYTES = 64 * 1024;

/** Where the host agent keeps the enclave's ciphertext in the snapshot bucket (the master role may touch only these). */
export function ciphertextObjectKeys(clusterId: string): { snapshot: string; sealedSecrets: string } {
  return { snapshot: `clusters/${clusterId}/datastore.snapshot.sealed`, sealedSecrets: `clusters/${clusterId}/cluster-secrets.sealed` };
}
