// POST /v1/nodes/join (IAM-authorized; only the worker role may invoke it). Admits a freshly launched
// worker instance into the cluster and hands it the K3s server URL and a per-node, short-lived bootstrap
// token pinning the attested CA (lambdas/shared/nodes/join-token.ts). Every check fails closed; every
// refusal is a 403 with a reason code (DESIGN §4). A retry by an admitted instance whose answer was lost
// gets the same admission again (same record, same token, no second slot) for a short window.
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { COMMON_ENV, readEnv, type EnvOf } from '../shared/runtime/env';
import { HttpError, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import type { TokenIndexReader } from '../shared/index/index-model';
import { DynamoIndexRepository } from '../shared/index/index-repository-dynamodb';
import { DynamoAttestationRecordStore, type AttestationRecordStore } from '../shared/attestation/record-store';
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, servesCluster, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import { formatJoinToken, KmsJoinTokenCipher, type JoinTokenCipher } from '../shared/nodes/join-token';
import { admitNode, stakeCapacity } from '../shared/nodes/admission';
import { INSTANCE_ID_PATTERN, NodeRegistry, WORKER_GROUPS_ENV } from '../shared/nodes/node-registry';
import { countIndexStale, logger, logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { IndexStaleError, INDEX_FRESHNESS_ENV } from '../shared/index/freshness';

export const NODE_JOIN_ENV = {
  ...COMMON_ENV,
  ...PLATFORM_SETTINGS_ENV,
  /** `https://<nlb>:6443`, returned to the agent as its server. */
  SERVER_URL: z.url({ protocol: /^https$/ }),
  JOIN_TOKEN_KEY_ARN: z.string().check(z.minLength(1)),
  /** The fixed worker role name: only sessions of this role are callers at all. */
  WORKER_ROLE_NAME: z.string().check(z.minLength(1)),
  WORKER_GROUPS: WORKER_GROUPS_ENV,
  ...INDEX_FRESHNESS_ENV,
};

export type NodeJoinSettings = EnvOf<typeof NODE_JOIN_ENV>;

export interface NodeJoinDeps {
  settings: NodeJoinSettings;
  /** The one source of who the caller is and whether it still runs: its worker group's view of it. */
  autoScaling: AutoScalingClient;
  registry: NodeRegistry;
  /**
   * Stake records and the pool's node minimum as the indexer wrote them: read through the index
   * repository, the one decoder of those items.
   */
  /** Opens pool entries (the join function may decrypt only with the bootstrap-token context). */
  stakes: Pick<TokenIndexReader, 'readItems'>;
  cipher: JoinTokenCipher;
  /** The latest verified enclave attestation: the join token pins the CA it attests. */
  attestations: Pick<AttestationRecordStore, 'getLatest'>;
  /** The platform's own enclave boot settings: a cluster attested with other ones gets no workers. */
  platformSettings: PlatformSettingsSource;
  now?: () => Date;
}

/**
 * Auto Scaling lifecycle states in which an instance may still join. An instance EC2 reports stopped or
 * terminated is marked unhealthy by its group's EC2 health check and moves to Terminating, so the group's
 * answer alone says "running" (no EC2 DescribeInstances, whose client is ~550 KB of bundle).
 */
const JOINABLE_ASG_STATES = new Set(['Pending', 'Pending:Wait', 'Pending:Proceed', 'InService']);

/** DescribeAutoScalingInstances spells it `HEALTHY`, DescribeAutoScalingGroups `Healthy`: compare either. */
const isHealthy = (status: string | undefined) => status?.toLowerCase() === 'healthy';

const ASSUMED_ROLE_ARN = /^arn:aws[a-z-]*:sts::([0-9]{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;

const forbidden = (code: string, message: string) => new HttpError(403, code, message);

/**
 * The instance id of the caller. With IAM authorization, HTTP API payload v2 puts the verified signer in
 * `requestContext.authorizer.iam` (`accessKey, accountId, callerId, principalOrgId, userArn, userId`; see
 * the API Gateway HTTP API Lambda payload 2.0 reference and Powertools' `APIGatewayRequestContextV2`
 * schema, docs.aws.amazon.com/powertools/typescript/2.14.0/api/types/_aws-lambda-powertools_parser.types.APIGatewayRequestContextV2.html).
 * EC2 obtains instance-profile credentials with the instance id as the role session name, so the
 * signer is `arn:aws:sts::<account>:assumed-role/<worker role>/i-…`. The worker role trusts only
 * ec2.amazonaws.com, so nobody else can mint a session of it with a chosen name.
 */
export function callerInstanceId(event: APIGatewayProxyEventV2WithIAMAuthorizer, workerRoleName: string): string {
  const iam = event.requestContext?.authorizer?.iam;
  const match = typeof iam?.userArn === 'string' ? ASSUMED_ROLE_ARN.exec(iam.userArn) : null;
  if (!match) throw forbidden('unknown_caller', 'the request is not signed by an assumed role session');
  const [, account, role, session] = match;
  if (role !== workerRoleName) throw forbidden('unknown_caller', 'the caller is not the worker role');
  // Fail closed: an identity we cannot tie to this API's own account is not a caller at all, even when a
  // field is merely missing (a role of the same name in another account must never pass).
  const apiAccount = event.requestContext?.accountId;
  if (!apiAccount || account !== apiAccount || iam?.accountId !== apiAccount) {
    throw forbidden('unknown_caller', 'the caller belongs to another account');
  }
  if (!INSTANCE_ID_PATTERN.test(session)) throw forbidden('unknown_caller', 'the caller session is not an EC2 instance');
  // userId is `<role id>:<session name>`; a missing or different one means the context is not what IAM
  // produced for an EC2 instance-profile session.
  if (typeof iam?.userId !== 'string' || !iam.userId.endsWith(`:${session}`)) {
    throw forbidden('unknown_caller', 'the caller identity is inconsistent');
  }
  return session;
}

const BodySchema = z.strictObject({});

export function createHandler(deps: NodeJoinDeps): (event: APIGatewayProxyEventV2WithIAMAuthorizer) => Promise<HttpResult> {
  const { settings } = deps;
  const now = deps.now ?? (() => new Date());
  const groups = new Map(settings.WORKER_GROUPS.map((g) => [g.autoScalingGroup, g]));

  const admit = async (event: APIGatewayProxyEventV2WithIAMAuthorizer): Promise<HttpResult> => {
    // The body is optional (docs/openapi.yaml): an absent one is `{}`.
    parseJsonBody(event, BodySchema, { absentAs: {} });
    const instanceId = callerInstanceId(event, settings.WORKER_ROLE_NAME);

    const { AutoScalingInstances: memberships = [] } = await deps.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const membership = memberships.find((m) => m.InstanceId === instanceId);
    const group = membership?.AutoScalingGroupName ? groups.get(membership.AutoScalingGroupName) : undefined;
    // An unknown id and a terminated instance its group has let go of are both no member of any group.
    if (!membership || !group) throw forbidden('not_a_worker', `instance ${instanceId} is not in a worker group of this cluster`);
    if (!JOINABLE_ASG_STATES.has(membership.LifecycleState ?? '')) {
      throw forbidden('instance_not_running', `instance ${instanceId} is ${membership.LifecycleState} in its group`);
    }
    // Between EC2 stopping or terminating an instance and its group moving it to Terminating, the group
    // already reports it unhealthy.
    if (!isHealthy(membership.HealthStatus)) {
      throw forbidden('instance_not_running', `instance ${instanceId} is reported ${membership.HealthStatus ?? 'without a health status'} by its group`);
    }

    // One round trip: the stake, the live node minimum and how current the index is (a stale index
    // may still show a slashed or unstaked stake as active: refuse, retryable).
    const at = now();
    let capacity;
    try {
      capacity = await stakeCapacity(deps.stakes, group.stakeId, {
        nowMs: at.getTime(),
        freshness: { maxAgeMs: settings.INDEX_MAX_AGE_SECONDS * 1000, onStale: countIndexStale },
      });
    } catch (error) {
      if (error instanceof IndexStaleError) throw new HttpError(503, error.code, error.message);
      throw error;
    }
    if (!capacity.ok) throw forbidden(capacity.reason, `group ${group.autoScalingGroup}: ${capacity.message}`);

    const attested = await deps.attestations.getLatest();
    if (!attested) throw forbidden('no_attestation', 'no verified attestation of the control-plane enclave yet');
    const platform = await deps.platformSettings.current();
    // A cluster attested with other boot settings gets no workers, not even a retry's earlier token.
    const serves = servesCluster(attested, platform.digest);
    if (!serves.ok) throw forbidden(serves.reason, serves.message);

    // The same admission as external nodes (lambdas/shared/nodes/admission.ts): capacity, one name once,
    // a per-node token claimed in the admission transaction.
    const admission = await admitNode(
      { clusterId: settings.CLUSTER_ID, registry: deps.registry, cipher: deps.cipher },
      {
        candidate: { name: instanceId, stakeId: group.stakeId, kind: 'asg', autoScalingGroup: group.autoScalingGroup },
        maxNodes: capacity.maxNodes,
        attestedCaPem: attested.caCertPem,
        now: at,
      },
    );
    if (!admission.ok) throw forbidden(admission.reason, admission.message);
    const { entry, secret } = admission;
    logger.info(admission.again ? 'node admission answered again' : 'node admitted', {
      instanceId,
      autoScalingGroup: group.autoScalingGroup,
      stakeId: group.stakeId,
      tokenId: entry.tokenId,
    });
    return json(200, { server: settings.SERVER_URL, token: formatJoinToken(attested.caCertPem, entry.tokenId, secret), nodeName: instanceId, expiresAt: entry.expiresAt });
  };

  return withHttpErrors(async (event) => {
    try {
      return await admit(event);
    } catch (error) {
      // Operators see why an instance stayed out; the signer is logged, never any token.
      if (error instanceof HttpError) {
        logger.warn('node join refused', { reason: error.code, detail: error.message, caller: event.requestContext?.authorizer?.iam?.userArn });
      }
      throw error;
    }
  }, logUnexpected);
}

let live: ReturnType<typeof createHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2WithIAMAuthorizer): Promise<HttpResult> => {
  if (!live) {
    const settings = readEnv(NODE_JOIN_ENV);
    const clientConfig = awsClientConfig('node-join');
    const db = new DynamoDBClient(clientConfig);
    const kms = new KMSClient(clientConfig);
    live = createHandler({
      settings,
      autoScaling: new AutoScalingClient(clientConfig),
      registry: new NodeRegistry(db, settings.TABLE_NAME),
      stakes: new DynamoIndexRepository({ tableName: settings.TABLE_NAME, client: db }),
      cipher: new KmsJoinTokenCipher(kms, settings.JOIN_TOKEN_KEY_ARN),
      attestations: new DynamoAttestationRecordStore({ tableName: settings.TABLE_NAME, client: db }),
      platformSettings: new EnvPlatformSettings(settings, kms),
    });
  }
  return live(event);
};
