// Typed, validated settings of one deployment environment (DESIGN §3). Synth fails with one message
// naming the bad field, so a typo never reaches CloudFormation.
import { z } from 'zod';
import { suiIdSchema } from '../../lambdas/shared/sui/ids';
import { MAX_INDEX_MAX_AGE_SECONDS, MIN_INDEX_MAX_AGE_SECONDS } from '../../lambdas/shared/index/freshness';

const hex = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
const objectId = suiIdSchema();
const sha384Hex = z.string().regex(hex(96), 'must be 96 lowercase hex characters (SHA-384)');

/** Instance families that support Nitro Enclaves and have enough vCPUs to give the enclave two. */
const ENCLAVE_CAPABLE = /^(m5|m5a|m5n|m6i|m6a|m7i|m7a|m6g|m7g|c5|c5a|c6i|c6a|c7i|c6g|c7g|r5|r6i|r6a|r7i|r6g|r7g)\.(xlarge|[0-9]+xlarge)$/;

/** An API Gateway token bucket: steady requests per second and the bucket size (burst). */
const ThrottleSchema = z
  .object({ ratePerSecond: z.number().int().min(1), burst: z.number().int().min(1) })
  .strict();

const WorkerGroupSchema = z
  .object({
    /** Short name; becomes part of construct ids and node labels. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be lowercase letters, digits and dashes'),
    instanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'must look like m6i.large'),
    minSize: z.number().int().min(0),
    maxSize: z.number().int().min(1).max(500),
    desiredCapacity: z.number().int().min(0),
    /** The operator's node stake (`StakeReceipt` stake id) that must cover every node of this group. */
    nodeStakeId: objectId,
  })
  .strict()
  .refine((g) => g.minSize <= g.desiredCapacity && g.desiredCapacity <= g.maxSize, {
    message: 'must satisfy minSize ≤ desiredCapacity ≤ maxSize',
    path: ['desiredCapacity'],
  });

export const EnvironmentConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/),
    /** Production refuses to synth without `enclave/pcrs.json` and the EIF. */
    production: z.boolean(),
    account: z.string().regex(/^[0-9]{12}$/, 'must be a 12-digit AWS account id'),
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-[0-9]$/, 'must be an AWS region such as us-east-1'),
    sui: z
      .object({
        network: z.enum(['mainnet', 'testnet', 'devnet', 'localnet']),
        grpcUrl: z.url({ protocol: /^https?$/ }),
        packageId: objectId,
        stakingPoolId: objectId,
        clusterId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits and dashes'),
      })
      .strict(),
    network: z
      .object({
        cidr: z.string().regex(/^\d+\.\d+\.\d+\.\d+\/(1[6-9]|2[0-4])$/, 'must be an IPv4 CIDR between /16 and /24'),
        maxAzs: z.number().int().min(2).max(6),
        natGateways: z.number().int().min(1).max(6),
      })
      .strict(),
    masters: z
      .object({
        instanceType: z.string().regex(ENCLAVE_CAPABLE, 'must be a Nitro-Enclaves-capable type of xlarge or bigger'),
        /** One enclave control plane; HA across enclaves (embedded etcd over vsock) is not built yet. */
        count: z.literal(1, { error: 'must be 1: a highly available control plane across enclaves is not supported yet' }),
        /** Resources handed to the enclave by the Nitro Enclaves allocator. */
        enclaveCpuCount: z.number().int().min(2).multipleOf(2),
        enclaveMemoryMiB: z.number().int().min(2048),
        /** Allowed to reach the NLB on 6443 (kubectl users, workers). */
        apiAllowedCidrs: z.array(z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/)).min(1),
      })
      .strict(),
    workerGroups: z.array(WorkerGroupSchema).min(1),
    k3s: z
      .object({
        version: z.string().regex(/^v1\.\d+\.\d+\+k3s\d+$/, 'must be a K3s release such as v1.34.2+k3s1'),
        /** SHA-256 of the release's `k3s` (amd64) and `k3s-arm64` binaries, from its sha256sum files. */
        sha256Amd64: z.string().regex(hex(64), 'must be 64 lowercase hex characters'),
        sha256Arm64: z.string().regex(hex(64), 'must be 64 lowercase hex characters'),
      })
      .strict(),
    api: z
      .object({
        /** Stage default: every route without a budget of its own (the IAM-authorized node routes). */
        throttleRatePerSecond: z.number().int().min(1),
        throttleBurst: z.number().int().min(1),
        /** `POST /v1/authenticate` (kube-apiserver's webhook): a budget no other route draws on. */
        webhookThrottle: ThrottleSchema,
        /**
         * Each unauthenticated route (`/v1/tokens/validate`, `/v1/kubeconfig`, `/v1/issuer`, `/healthz`, the
         * external node join/leave): a budget of its own per route, smaller than the webhook's, so a flood
         * of one public route is refused there and never reaches the webhook's budget.
         */
        publicRouteThrottle: ThrottleSchema,
        /**
         * Pre-initialized authenticate instances (Lambda provisioned concurrency on its `live` alias): that
         * many concurrent kubectl checks never wait on a cold start. 0 = none (on-demand only).
         */
        authenticateProvisionedConcurrency: z.number().int().min(0).max(100),
      })
      .strict()
      .refine((api) => api.publicRouteThrottle.ratePerSecond <= api.webhookThrottle.ratePerSecond && api.publicRouteThrottle.burst <= api.webhookThrottle.burst, {
        message: 'publicRouteThrottle must not exceed webhookThrottle (rate and burst)',
        path: ['publicRouteThrottle'],
      }),
    indexer: z
      .object({
        scheduleMinutes: z.number().int().min(1).max(60),
        lagAlarmSeconds: z.number().int().min(60),
        /**
         * Token checks and node joins refuse (fail closed, `index_stale`) while the newest checkpoint the
         * indexer covered is older than this (lambdas/shared/index/freshness.ts). It bounds how long a
         * stopped indexer can keep serving revoked tokens and slashed stakes.
         */
        maxIndexAgeSeconds: z.number().int().min(MIN_INDEX_MAX_AGE_SECONDS).max(MAX_INDEX_MAX_AGE_SECONDS),
        /** Optional provider authentication: a request header and the Secrets Manager secret (name) holding its value. */
        grpcAuth: z
          .object({
            header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lowercase header name such as x-api-key'),
            secretName: z.string().min(1),
          })
          .strict()
          .optional(),
      })
      .strict(),
    /** Who hears the alarms: each address is subscribed to the environment's alarm topic (and must confirm). */
    alarms: z
      .object({
        emails: z.array(z.email({ error: 'must be e-mail addresses' })).min(1, { error: 'must name at least one address: an alarm nobody receives is no alarm' }),
      })
      .strict(),
    /**
     * The enclave release being upgraded from (its `pcrs.json` measurements): its enclave may seal the
     * cluster secrets to the new release's cluster-state key, never unseal them (docs/enclave.md).
     */
    previousEnclavePcrs: z
      .object({ PCR0: sha384Hex, PCR1: sha384Hex, PCR2: sha384Hex, PCR8: sha384Hex.optional() })
      .strict()
      .optional(),
    /** Kubeconfigs are only issued while the latest verified attestation is younger than this. */
    attestationMaxAgeMinutes: z.number().int().min(1).max(1440),
    logRetentionDays: z.union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(365)]),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Between two runs the covered checkpoint ages by a whole interval: a tighter bound refuses everyone.
    if (c.indexer.maxIndexAgeSeconds < 2 * c.indexer.scheduleMinutes * 60) {
      ctx.addIssue({ code: 'custom', path: ['indexer', 'maxIndexAgeSeconds'], message: 'must be at least two indexer intervals (2 × scheduleMinutes × 60)' });
    }
    c.workerGroups.forEach((g, i) => {
      if (c.workerGroups.findIndex((o) => o.name === g.name) !== i) {
        ctx.addIssue({ code: 'custom', path: ['workerGroups', i, 'name'], message: 'must be unique' });
      }
    });
  });

export type EnvironmentConfig = z.infer<typeof EnvironmentConfigSchema>;
export type WorkerGroupConfig = EnvironmentConfig['workerGroups'][number];

export class ConfigValidationError extends Error {}

/** Validates a raw config; the error names the first bad field as a dotted path. */
export function validateEnvironmentConfig(raw: unknown, source: string): EnvironmentConfig {
  const result = EnvironmentConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map(String).join('.') || '(root)';
    throw new ConfigValidationError(`invalid configuration for environment "${source}": ${field} ${issue.message}`);
  }
  return result.data;
}
