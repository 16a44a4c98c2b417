// GET /v1/nodes/roster — the nodes the index admits now (lambdas/shared/nodes/roster.ts), for the in-enclave
// reconciler that deletes every other Node (issue 15). Authenticated like /v1/authenticate: the enclave holds
// the webhook bearer secret. Paged (`?after=<opaque>`); a stale index is 503 `index_stale` and an outage 503
// `backend_unavailable`, on which the reconciler changes nothing.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { cachedSecret, refuseWithoutWebhookSecret, secretsManagerLoader } from '../shared/runtime/webhook-secret';
import { INDEX_FRESHNESS_ENV } from '../shared/index/freshness';
import { DynamoIndexRepository } from '../shared/index/index-repository-dynamodb';
import { NodeRegistry } from '../shared/nodes/node-registry';
import { decodeRosterCursor, encodeRosterCursor, readRosterPage, type RosterIndex } from '../shared/nodes/roster';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { readEnv } from '../shared/runtime/env';
import { HttpError, json, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { countIndexStale, logger, logUnexpected } from '../shared/runtime/powertools';

export const NODE_ROSTER_ENV = {
  TABLE_NAME: z.string().check(z.minLength(1)),
  WEBHOOK_SECRET_ARN: z.string().check(z.minLength(1)),
  ...INDEX_FRESHNESS_ENV,
} as const;

export interface NodeRosterDeps {
  readonly index: RosterIndex;
  readonly webhookSecret: () => Promise<string>;
  readonly maxIndexAgeSeconds: number;
  readonly now?: () => Date;
  /** Table items evaluated per page (tests page with small ones). */
  readonly pageItems?: number;
}

export function createHandler(deps: NodeRosterDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  const now = deps.now ?? (() => new Date());
  return withHttpErrors(async (event) => {
    const refused = await refuseWithoutWebhookSecret(event.headers?.authorization, deps.webhookSecret, { status: 503, code: 'backend_unavailable' });
    if (refused) return refused;

    const after = event.queryStringParameters?.after;
    const start = after === undefined ? undefined : decodeRosterCursor(after);
    if (after !== undefined && !start) throw new HttpError(400, 'invalid_request', 'after: not a cursor this route handed out');
    const at = now();
    const page = await readRosterPage(deps.index, {
      start,
      nowMs: at.getTime(),
      limit: deps.pageItems,
      freshness: { maxAgeMs: deps.maxIndexAgeSeconds * 1000, onStale: countIndexStale },
    });
    if (page.excluded.length > 0) logger.info('joined nodes left out of the roster', { excluded: page.excluded });
    return json(200, {
      nodes: page.nodes,
      next: page.next ? encodeRosterCursor(page.next) : null,
      asOf: at.toISOString(),
      coveredThroughMs: page.coveredThroughMs,
    });
  }, logUnexpected);
}

/** The DynamoDB reads of the roster: node pages from the registry, everything else from the index repository. */
export function dynamoRosterIndex(tableName: string, client: DynamoDBClient): RosterIndex {
  const registry = new NodeRegistry(client, tableName);
  const repo = new DynamoIndexRepository({ tableName, client });
  return {
    listJoinedNodes: (page) => registry.listJoinedNodes(page),
    readItems: (request) => repo.readItems(request),
    joinedNodesOfStake: (stakeId) => registry.joinedNodesOfStake(stakeId),
    getStakes: (ids) => repo.getStakes(ids),
    getTokens: (ids) => repo.getTokens(ids),
  };
}

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

// Built on the first invocation (the cold start) so importing the module in tests needs no environment.
export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(NODE_ROSTER_ENV);
    live = createHandler({
      index: dynamoRosterIndex(env.TABLE_NAME, new DynamoDBClient(awsClientConfig('node-roster'))),
      webhookSecret: cachedSecret(secretsManagerLoader(env.WEBHOOK_SECRET_ARN, new SecretsManagerClient(awsClientConfig('node-roster')))),
      maxIndexAgeSeconds: env.INDEX_MAX_AGE_SECONDS,
    });
  }
  return live(event);
};
