// How a Lambda builds its token checker from its environment (DESIGN §4): the DynamoDB index, the
// cluster id, and — when a gRPC URL is configured — a Sui client for zkLogin signatures. Shared by every
// route that checks credentials so they all apply the same settings.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ClientWithCoreApi } from '@mysten/sui/client';
import * as z from 'zod';
import { COMMON_ENV } from '../runtime/env';
import { DynamoIndexRepository } from '../index/index-repository-dynamodb';
import { SUI_NETWORKS, type SuiNetwork } from '../sui/networks';
import { createTokenChecker, type TokenChecker } from './token-check';
import { callBudget, worstCaseCallMs } from '../runtime/aws-clients';

export const TOKEN_CHECK_ENV = {
  ...COMMON_ENV,
  SUI_NETWORK: z.enum(SUI_NETWORKS),
  /** Without it zkLogin credentials are refused (never accepted unchecked). */
  SUI_GRPC_URL: z.url({ protocol: /^https?$/ }).optional(),
  TOKEN_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
} as const;

export type TokenCheckEnv = z.infer<z.ZodObject<typeof TOKEN_CHECK_ENV>>;

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
      client ??= load().catch((error: unknown) => {
        client = undefined;
        throw error;
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the Sui node did not answer the zkLogin verification within ${timeoutMs} ms`)), timeoutMs);
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

function grpcZkLoginClient(network: SuiNetwork, grpcUrl: string): ClientWithCoreApi {
  return lazyZkLoginClient(() => import('../sui/client').then((m) => m.createSuiClient({ network, grpcUrl })));
}

/** `client`: the function's DynamoDB client, with its timeouts (`awsClientConfig`). */
export function tokenCheckerFromEnv(env: TokenCheckEnv, client?: DynamoDBClient): TokenChecker {
  return createTokenChecker({
    index: new DynamoIndexRepository({ tableName: env.TABLE_NAME, client }),
    clusterId: env.CLUSTER_ID,
    cacheSize: env.TOKEN_CACHE_SIZE,
    zkLoginClient: env.SUI_GRPC_URL ? grpcZkLoginClient(env.SUI_NETWORK, env.SUI_GRPC_URL) : undefined,
  });
}
