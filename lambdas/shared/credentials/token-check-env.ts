// How a Lambda builds its token checker from its environment (DESIGN §4): the DynamoDB index, the
// cluster id, and — when a gRPC URL is configured — a Sui client for zkLogin signatures. Shared by every
// route that checks credentials so they all apply the same settings.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ClientWithCoreApi } from '@mysten/sui/client';
import * as z from '../runtime/zod';
import { COMMON_ENV, type EnvOf } from '../runtime/env';
import { DynamoIndexRepository } from '../index/index-repository-dynamodb';
import { INDEX_FRESHNESS_ENV, type FreshnessPolicy } from '../index/freshness';
import { countIndexStale } from '../runtime/powertools';
import { SUI_NETWORKS, type SuiNetwork } from '../sui/networks';
import { createTokenChecker, type TokenChecker } from './token-check';
import { callBudget, worstCaseCallMs } from '../runtime/aws-clients';
import { SignatureVerifierUnavailableError } from './credential';
import { INDEX_VIEW_TTL_SECONDS, TOKEN_DECISION_TTL_SECONDS } from './revocation-bound';

export const TOKEN_CHECK_ENV = {
  ...COMMON_ENV,
  SUI_NETWORK: z.enum(SUI_NETWORKS),
  /** Without it zkLogin credentials are refused (never accepted unchecked). */
  SUI_GRPC_URL: z.optional(z.url({ protocol: /^https?$/ })),
  TOKEN_CACHE_SIZE: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(1_000_000)), 10_000),
  // Shorter only, never longer: the revocation and freshness bounds are documented with the defaults.
  TOKEN_DECISION_TTL_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(TOKEN_DECISION_TTL_SECONDS)), TOKEN_DECISION_TTL_SECONDS),
  INDEX_VIEW_TTL_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(INDEX_VIEW_TTL_SECONDS)), INDEX_VIEW_TTL_SECONDS),
  ...INDEX_FRESHNESS_ENV,
} as const;

export type TokenCheckEnv = EnvOf<typeof TOKEN_CHECK_ENV>;

/**
 * How long a zkLogin verification may wait on the Sui node: the same worst case as one AWS call of the
 * credential routes (`aws-clients.ts`), so a hanging node is answered like any outage, within the
 * function's timeout.
 */
export const ZKLOGIN_TIMEOUT_MS = worstCaseCallMs(callBudget('authenticate'));

/**
 * A client whose gRPC stack is loaded on the first zkLogin credential only: most credentials are
 * Ed25519, and the cold start should not pay for a protobuf client they never use. A verification
 * that does not answer within `timeoutMs` fails (the check reports the verifier unavailable).
 */
export function lazyZkLoginClient(load: () => Promise<ClientWithCoreApi>, timeoutMs = ZKLOGIN_TIMEOUT_MS): ClientWithCoreApi {
  let client: Promise<ClientWithCoreApi> | undefined;
  const core = {
    async verifyZkLoginSignature(options: Parameters<ClientWithCoreApi['core']['verifyZkLoginSignature']>[0]) {
      // A failed load is forgotten, so one bad cold start does not refuse every zkLogin user until recycle.
      // It is unavailability (retry), never a verdict on the signature.
      client ??= load().catch((error: unknown) => {
        client = undefined;
        throw new SignatureVerifierUnavailableError('the zkLogin verifier client could not be loaded', { cause: error });
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SignatureVerifierUnavailableError(`the Sui node did not answer the zkLogin verification within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([client.then((c) => c.core.verifyZkLoginSignature(options)), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
  // Only `core.verifyZkLoginSignature` is ever called on a verification client (see credential.ts).
  return { core } as unknown as ClientWithCoreApi;
}

/**
 * fetch for the zkLogin verifier: a request that got no answer at all (connection refused or reset, DNS,
 * TLS) becomes an HTTP 503, which the gRPC-web transport reports as UNAVAILABLE. Without this the
 * transport reports it as INTERNAL, indistinguishable from the node's own INTERNAL answer, and only
 * unavailability may count as "verifier unavailable" (credential.ts). Aborts stay aborts.
 */
export function networkErrorsAsUnavailable(fetchImpl: typeof globalThis.fetch = globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    try {
      return await fetchImpl(input, init);
    } catch (error) {
      if (init?.signal?.aborted) throw error;
      const reason = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      return new Response(null, { status: 503, statusText: `network error: ${reason}`.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200) });
    }
  };
}

function grpcZkLoginClient(network: SuiNetwork, grpcUrl: string): ClientWithCoreApi {
  return lazyZkLoginClient(() => import('../sui/client').then((m) => m.createSuiClient({ network, grpcUrl, fetch: networkErrorsAsUnavailable() })));
}

/**
 * `client`: the function's DynamoDB client, with its timeouts (`awsClientConfig`); `onStale` counts stale-index
 * refusals; `audience`: what credentials must name in `aud` (default the cluster id; the external node routes
 * pass `joinAudience(clusterId)`).
 */
export function tokenCheckerFromEnv(
  env: TokenCheckEnv,
  client?: DynamoDBClient,
  onStale: FreshnessPolicy['onStale'] = countIndexStale,
  audience?: string,
): TokenChecker {
  return createTokenChecker({
    index: new DynamoIndexRepository({ tableName: env.TABLE_NAME, client }),
    clusterId: env.CLUSTER_ID,
    ...(audience === undefined ? {} : { audience }),
    freshness: { maxAgeMs: env.INDEX_MAX_AGE_SECONDS * 1000, onStale },
    cacheSize: env.TOKEN_CACHE_SIZE,
    decisionTtlMs: env.TOKEN_DECISION_TTL_SECONDS * 1000,
    viewTtlMs: env.INDEX_VIEW_TTL_SECONDS * 1000,
    zkLoginClient: env.SUI_GRPC_URL ? grpcZkLoginClient(env.SUI_NETWORK, env.SUI_GRPC_URL) : undefined,
  });
}
