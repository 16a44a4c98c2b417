// POST /v1/authenticate — kube-apiserver's webhook token authenticator (DESIGN §2 step 3, §6).
// Answers a TokenReview (v1 or v1beta1) for a k3s-daas credential: 200 authenticated with the user and
// its groups, 200 unauthenticated (no detail: the apiserver caches it), 500 when a backend cannot
// answer (the apiserver retries and does not cache), 401 when the caller lacks the webhook secret.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { readEnv } from '../shared/runtime/env';
import { json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { logger, logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { isBackendUnavailable, type Identity, type TokenChecker } from '../shared/credentials/token-check';
import { IndexStaleError } from '../shared/index/freshness';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../shared/credentials/token-check-env';
import { cachedSecret, refuseWithoutWebhookSecret, secretsManagerLoader } from '../shared/runtime/webhook-secret';

export const TOKEN_REVIEW_VERSIONS = ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'] as const;

const TokenReviewSchema = z.object({
  apiVersion: z.enum(TOKEN_REVIEW_VERSIONS),
  kind: z.literal('TokenReview'),
  // An empty token is a well-formed review of a bad credential: 200 authenticated:false, not 400.
  spec: z.object({ token: z.string(), audiences: z.optional(z.array(z.string())) }),
});

export interface AuthenticateHandlerDeps {
  readonly checker: Pick<TokenChecker, 'check'>;
  /** The current webhook bearer secret (cached by the caller). */
  readonly webhookSecret: () => Promise<string>;
}

function userOf(identity: Identity) {
  return {
    username: identity.username,
    uid: identity.uid,
    groups: identity.groups,
    extra: { 'k3s-daas.io/token-id': [identity.tokenId], 'k3s-daas.io/stake-id': [identity.stakeId] },
  };
}

// The token checker never builds such names; this guard keeps a future bug from minting cluster admins.
function reservedName(identity: Identity): boolean {
  return [identity.username, ...identity.groups].some((name) => name.startsWith('system:'));
}

export function createHandler(deps: AuthenticateHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async (event) => {
    const refused = await refuseWithoutWebhookSecret(event.headers?.authorization, deps.webhookSecret, { status: 500, code: 'webhook_secret_unavailable' });
    if (refused) return refused;

    const review = parseJsonBody(event, TokenReviewSchema);
    const answer = (statusCode: number, status: Record<string, unknown>) =>
      json(statusCode, { apiVersion: review.apiVersion, kind: 'TokenReview', status });

    let result;
    try {
      result = await deps.checker.check(review.spec.token);
    } catch (error) {
      if (!isBackendUnavailable(error)) throw error;
      logger.error('token review failed: backend unavailable', error as Error);
      return answer(500, { authenticated: false, error: `the token index is ${error instanceof IndexStaleError ? 'stale' : 'unavailable'}; retry` });
    }
    if (!result.ok) {
      logger.info('token review refused', { reason: result.reason });
      return answer(200, { authenticated: false });
    }
    if (reservedName(result.identity)) {
      logger.error('token review refused: reserved name', { username: result.identity.username });
      return answer(200, { authenticated: false });
    }
    return answer(200, { authenticated: true, user: userOf(result.identity) });
  }, logUnexpected, { outageStatus: 500 });
}

export const AUTHENTICATE_ENV = {
  ...TOKEN_CHECK_ENV,
  WEBHOOK_SECRET_ARN: z.string().check(z.minLength(1)),
} as const;

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

// Built on the first invocation (the cold start) so importing the module in tests needs no environment.
export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(AUTHENTICATE_ENV);
    live = createHandler({
      // The client serves the checker's reads only: it may reuse command handlers (aws-clients.ts).
      checker: tokenCheckerFromEnv(env, new DynamoDBClient(awsClientConfig('authenticate', { reuseCommandHandlers: true }))),
      webhookSecret: cachedSecret(secretsManagerLoader(env.WEBHOOK_SECRET_ARN, new SecretsManagerClient(awsClientConfig('authenticate')))),
    });
  }
  return live(event);
};
