// POST /v1/nodes/join (IAM-authorized; only the worker role may invoke it). Admits a freshly launched
// worker instance into the cluster and hands it the K3s server URL and the CA-pinning agent token.
// Every check fails closed; every refusal is a 403 with a reason code (DESIGN §4).
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import * as z from 'zod';
import { COMMON_ENV, readEnv } from '../shared/runtime/env';
import { HttpError, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import type { TokenIndexReader } from '../shared/index/index-model';
import { DynamoIndexRepository } from '../shared/index/index-repository-dynamodb';
import { DynamoAttestationRecordStore, type AttestationRecordStore } from '../shared/attestation/record-store';
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, servesCluster, SettingsUnavailableError, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import { JOIN_TOKEN_PATTERN, joinTokenEncryptionContext, joinTokenPinsCa, KmsJoinTokenCipher, type JoinTokenCipher } from '../shared/nodes/join-token';
import { INSTANCE_ID_PATTERN, NodeRegistry, WORKER_GROUPS_ENV } from '../shared/nodes/node-registry';
import { logger, logUnexpected } from '../shared/runtime/powertools';
import { DEFAULT_MIN_STAKE_MIST } from '../shared/sui/roles';

export const NODE_JOIN_ENV = {
  ...COMMON_ENV,
  ...PLATFORM_SETTINGS_ENV,
  /** `https://<nlb>:6443`, returned to the agent as its server. */
  SERVER_URL: z.url({ protocol: /^https$/ }),
  JOIN_TOKEN_KEY_ARN: z.string().min(1),
  /** The fixed worker role name: only sessions of this role are callers at all. */
  WORKER_ROLE_NAME: z.string().min(1),
  WORKER_GROUPS: WORKER_GROUPS_ENV,
};

export type NodeJoinSettings = z.infer<z.ZodObject<typeof NODE_JOIN_ENV>>;

export interface NodeJoinDeps {
  settings: NodeJoinSettings;
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  registry: NodeRegistry;
  /**
   * Stake records and the pool's node minimum as the indexer wrote them: read through the index
   * repository, the one decoder of those items.
   */
  stakes: Pick<TokenIndexReader, 'getStake' | 'getMinStake'>;
  cipher: JoinTokenCipher;
  /** The latest verified enclave attestation: the join token must pin the CA it attests. */
  attestations: Pick<AttestationRecordStore, 'getLatest'>;
  /** The platform's own enclave boot settings: a cluster attested with other ones gets no workers. */
  platformSettings: PlatformSettingsSource;
  now?: () => Date;
}

/** EC2 instance states and Auto Scaling lifecycle states in which an instance may still join. */
const JOINABLE_EC2_STATES = new Set(['pending', 'running']);
const JOINABLE_ASG_STATES = new Set(['Pending', 'Pending:Wait', 'Pending:Proceed', 'InService']);

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

const BodySchema = z.object({}).strict();

export function createHandler(deps: NodeJoinDeps): (event: APIGatewayProxyEventV2WithIAMAuthorizer) => Promise<HttpResult> {
  const { settings } = deps;
  const now = deps.now ?? (() => new Date());
  const groups = new Map(settings.WORKER_GROUPS.map((g) => [g.autoScalingGroup, g]));
  const context = joinTokenEncryptionContext(settings.CLUSTER_ID);

  const admit = async (event: APIGatewayProxyEventV2WithIAMAuthorizer): Promise<HttpResult> => {
    parseJsonBody(event, BodySchema);
    const instanceId = callerInstanceId(event, settings.WORKER_ROLE_NAME);

    const reservation = await deps.ec2
      .send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
      .catch((error: { name?: string }) => {
        if (error?.name === 'InvalidInstanceID.NotFound' || error?.name === 'InvalidInstanceID.Malformed') return undefined;
        throw error;
      });
    const instance = reservation?.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    if (!instance) throw forbidden('not_a_worker', `instance ${instanceId} does not exist in this account and region`);
    const state = instance.State?.Name ?? 'unknown';
    if (!JOINABLE_EC2_STATES.has(state)) throw forbidden('instance_not_running', `instance ${instanceId} is ${state}`);

    const { AutoScalingInstances: memberships = [] } = await deps.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const membership = memberships.find((m) => m.InstanceId === instanceId);
    const group = membership?.AutoScalingGroupName ? groups.get(membership.AutoScalingGroupName) : undefined;
    if (!membership || !group) throw forbidden('not_a_worker', `instance ${instanceId} is not in a worker group of this cluster`);
    if (!JOINABLE_ASG_STATES.has(membership.LifecycleState ?? '')) {
      throw forbidden('instance_not_running', `instance ${instanceId} is ${membership.LifecycleState} in its group`);
    }

    const stake = await deps.stakes.getStake(group.stakeId);
    if (!stake || stake.status !== 'active') {
      throw forbidden('stake_inactive', `the node stake of group ${group.autoScalingGroup} is ${stake?.status ?? 'not in the index'}`);
    }
    if (stake.role !== 'node') throw forbidden('stake_wrong_role', `the stake of group ${group.autoScalingGroup} is a ${stake.role} stake`);
    // The live node minimum once the pool changed it on chain, else the publish-time default.
    const nodeMinimum = (await deps.stakes.getMinStake('node')) ?? DEFAULT_MIN_STAKE_MIST.node;
    const maxNodes = stake.amountMist / nodeMinimum;

    const stored = await deps.registry.getJoinToken();
    if (!stored) throw forbidden('no_join_token', 'the control plane has not published a join token yet');
    const token = await deps.cipher.decrypt(Buffer.from(stored.ciphertext, 'base64'), context).catch((error: { name?: string }) => {
      // Sealed under another key or context (another cluster, another purpose): it is not our token.
      if (error?.name === 'InvalidCiphertextException') {
        throw forbidden('no_join_token', 'the stored join token was not sealed for this cluster');
      }
      throw error;
    });
    // A token without the CA hash would let the agent trust whatever answers on 6443: never hand it out.
    if (!JOIN_TOKEN_PATTERN.test(token)) throw forbidden('no_join_token', 'the stored join token is not in the CA-pinning K10 format');
    const attested = await deps.attestations.getLatest();
    if (!attested) throw forbidden('no_attestation', 'no verified attestation of the control-plane enclave yet');
    const platform = await deps.platformSettings.current().catch((error: unknown) => {
      if (error instanceof SettingsUnavailableError) throw new HttpError(503, 'settings_unavailable', "the platform's own settings cannot be computed right now; retry later");
      throw error;
    });
    const serves = servesCluster(attested, platform.digest);
    if (!serves.ok) throw forbidden(serves.reason, serves.message);
    if (!joinTokenPinsCa(token, attested.caCertPem)) {
      throw forbidden('ca_not_attested', 'the published join token does not pin the cluster CA the enclave attested');
    }

    const admitted = await deps.registry.admit({ instanceId, stakeId: group.stakeId, autoScalingGroup: group.autoScalingGroup, maxNodes, now: now() });
    if (!admitted.admitted) {
      throw forbidden(
        admitted.reason,
        admitted.reason === 'already_joined'
          ? `instance ${instanceId} has joined before; node names are never reused`
          : `the node stake of group ${group.autoScalingGroup} covers ${maxNodes} node(s), all taken`,
      );
    }
    logger.info('node admitted', { instanceId, autoScalingGroup: group.autoScalingGroup, stakeId: group.stakeId });
    return json(200, { server: settings.SERVER_URL, token, nodeName: instanceId });
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
    const db = new DynamoDBClient({});
    const kms = new KMSClient({});
    live = createHandler({
      settings,
      ec2: new EC2Client({}),
      autoScaling: new AutoScalingClient({}),
      registry: new NodeRegistry(db, settings.TABLE_NAME),
      stakes: new DynamoIndexRepository({ tableName: settings.TABLE_NAME, client: db }),
      cipher: new KmsJoinTokenCipher(kms, settings.JOIN_TOKEN_KEY_ARN),
      attestations: new DynamoAttestationRecordStore({ tableName: settings.TABLE_NAME, client: db }),
      platformSettings: new EnvPlatformSettings(settings, kms),
    });
  }
  return live(event);
};
