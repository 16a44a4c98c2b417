// POST /v1/nodes/external/leave (public; a join credential of a token of the node's stake is the
// authentication; issue 15). Marks an external node `gone` and gives its stake's slot back, with the
// departure code ASG scale-in uses (NodeRegistry.markGone); the in-enclave reconciler then deletes the
// Node object. Idempotent: a node already gone answers 200 again. Its name is never admitted again.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { joinAudience, type TokenCheckResult } from '../shared/credentials/token-check';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../shared/credentials/token-check-env';
import { checkJoinCredential, JOIN_CREDENTIAL_MAX_LENGTH } from '../shared/nodes/external-auth';
import { NodeRegistry } from '../shared/nodes/node-registry';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { readEnv } from '../shared/runtime/env';
import { HttpError, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { countIndexStale, logger, logUnexpected } from '../shared/runtime/powertools';

export const EXTERNAL_LEAVE_ENV = { ...TOKEN_CHECK_ENV };

/** A Kubernetes node name as this route accepts it: a DNS-1123 label. */
const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const BodySchema = z
  .strictObject({
    credential: z.string().check(z.minLength(1), z.maxLength(JOIN_CREDENTIAL_MAX_LENGTH)),
    nodeName: z.string().check(z.regex(NODE_NAME, 'must be a DNS-1123 label')),
  });

export interface ExternalLeaveDeps {
  /** The token checker with `audience: joinAudience(clusterId)`. */
  checkCredential: (credential: string) => Promise<TokenCheckResult>;
  registry: Pick<NodeRegistry, 'getNode' | 'markGone'>;
  now?: () => Date;
}

export function createHandler(deps: ExternalLeaveDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  const now = deps.now ?? (() => new Date());

  const leave = async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const { credential, nodeName } = parseJsonBody(event, BodySchema);
    const identity = await checkJoinCredential(deps.checkCredential, credential);
    const node = await deps.registry.getNode(nodeName);
    if (!node) throw new HttpError(404, 'unknown_node', `no node ${nodeName} was admitted in this cluster`);
    // Instances of the platform's worker groups leave by scale-in (their lifecycle hook), never through here.
    if (node.kind !== 'external' || node.stakeId !== identity.stakeId) {
      throw new HttpError(403, 'not_your_node', `node ${nodeName} is not an external node of stake ${identity.stakeId}`);
    }
    const marked = await deps.registry.markGone({ instanceId: nodeName, stakeId: node.stakeId, autoScalingGroup: node.autoScalingGroup, now: now() });
    if (marked) logger.info('external node left', { nodeName, stakeId: node.stakeId, sealTokenId: identity.tokenId });
    return json(200, { nodeName, status: 'gone' });
  };

  return withHttpErrors(async (event) => {
    try {
      return await leave(event);
    } catch (error) {
      if (error instanceof HttpError) logger.warn('external node leave refused', { reason: error.code, detail: error.message });
      throw error;
    }
  }, logUnexpected);
}

let live: ReturnType<typeof createHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const settings = readEnv(EXTERNAL_LEAVE_ENV);
    const db = new DynamoDBClient(awsClientConfig('node-external-leave'));
    const checker = tokenCheckerFromEnv(settings, db, countIndexStale, joinAudience(settings.CLUSTER_ID));
    live = createHandler({ checkCredential: (credential) => checker.check(credential), registry: new NodeRegistry(db, settings.TABLE_NAME) });
  }
  return live(event);
};
