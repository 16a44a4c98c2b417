// POST /v1/tokens/validate (DESIGN §4): lets a user (or a tool) ask whether a credential is accepted and
// as whom. 200 `{valid: true, identity}`, 401 `{valid: false, reason}`; 503 `backend_unavailable` when
// the index (or the zkLogin node) cannot answer.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { readEnv } from '../shared/runtime/env';
import { json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import type { TokenChecker } from '../shared/credentials/token-check';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../shared/credentials/token-check-env';

// No length cap here: an over-long string is a malformed credential (401 with the reason, DESIGN §4), and
// the body itself is capped at 16 KiB.
const BodySchema = z.strictObject({ credential: z.string().check(z.minLength(1)) });

export interface ValidateHandlerDeps {
  readonly checker: Pick<TokenChecker, 'check'>;
}

export function createHandler(deps: ValidateHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async (event) => {
    const { credential } = parseJsonBody(event, BodySchema);
    // A backend outage is the shared 503 `backend_unavailable` (withHttpErrors): fail closed, retryable.
    const result = await deps.checker.check(credential);
    if (!result.ok) return json(401, { valid: false, reason: result.reason });
    const { username, uid, groups, address, tokenId, role, expiresAt } = result.identity;
    return json(200, { valid: true, identity: { username, uid, groups, address, tokenId, role, expiresAt } });
  }, logUnexpected);
}

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

// Built on the first invocation (the cold start) so importing the module in tests needs no environment.
export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  // The client serves the checker's reads only: it may reuse command handlers (aws-clients.ts).
  if (!live) live = createHandler({ checker: tokenCheckerFromEnv(readEnv(TOKEN_CHECK_ENV), new DynamoDBClient(awsClientConfig('tokens-validate', { reuseCommandHandlers: true }))) });
  return live(event);
};
