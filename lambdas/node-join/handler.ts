// POST /v1/nodes/join (IAM-authorized; only the worker role may invoke it). Admits a freshly launched
// worker instance into the cluster and hands it the K3s server URL and a per-node, short-lived bootstrap
// token pinning the attested CA (lambdas/shared/nodes/join-token.ts). Every check fails closed; every
// refusal is a 403 with a reason code (DESIGN §4). A retry by an admitted instance whose answer was lost
// gets the same admission again (same record, same token, no second slot) for a short window.
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
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, servesCluster, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import {
  BOOTSTRAP_TOKEN_ID_PATTERN,
  BOOTSTRAP_TOKEN_SECRET_PATTERN,
  BOOTSTRAP_TOKEN_TIMING,
  bootstrapTokenEncryptionContext,
  caPemSha256,
  formatJoinToken,
  KmsJoinTokenCipher,
  type BootstrapPoolEntry,
  type JoinTokenCipher,
} from '../shared/nodes/join-token';
import type { NodeRecord } from '../shared/index/index-model';
import { randomInt } from 'node:crypto';
import { INSTANCE_ID_PATTERN, NodeRegistry, WORKER_GROUPS_ENV } from '../shared/nodes/node-registry';
import { countIndexStale, logger, logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { assertIndexFresh, IndexStaleError, INDEX_FRESHNESS_ENV } from '../shared/index/freshness';
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
  ...INDEX_FRESHNESS_ENV,
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
  /** Opens pool entries (the join function may decrypt only with the bootstrap-token context). */
  stakes: Pick<TokenIndexReader, 'readItems'>;
  cipher: JoinTokenCipher;
  /** The latest verified enclave attestation: the join token pins the CA it attests. */
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

/** Pool entries tried per join before giving up (each costs a decrypt; a lost race costs a transaction). */
const MAX_CANDIDATES = 5;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** An entry the host stored is untrusted until its ciphertext opens; this only drops what cannot be one. */
function wellFormed(e: BootstrapPoolEntry): boolean {
  return BOOTSTRAP_TOKEN_ID_PATTERN.test(e.tokenId) && ISO_INSTANT.test(e.expiresAt) && /^[0-9a-f]{64}$/.test(e.caSha256) && e.ciphertext.length > 0;
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

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

  const admit = async (event: APIGatewayProxyEventV2WithIAMAuthorizer): Promise<HttpResult> => {
    // The body is optional (docs/openapi.yaml): an absent one is `{}`.
    parseJsonBody(event, BodySchema, { absentAs: {} });
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

    // One round trip: the stake, the live node minimum and how current the index is (a stale index
    // may still show a slashed or unstaked stake as active: refuse, retryable).
    const { stake, minStakeMist, freshness } = await deps.stakes.readItems({ stakeId: group.stakeId, minStakeRole: 'node', freshness: true });
    try {
      assertIndexFresh(freshness, now().getTime(), { maxAgeMs: settings.INDEX_MAX_AGE_SECONDS * 1000, onStale: countIndexStale });
    } catch (error) {
      if (error instanceof IndexStaleError) throw new HttpError(503, error.code, error.message);
      throw error;
    }
    if (!stake || stake.status !== 'active') {
      throw forbidden('stake_inactive', `the node stake of group ${group.autoScalingGroup} is ${stake?.status ?? 'not in the index'}`);
    }
    if (stake.role !== 'node') throw forbidden('stake_wrong_role', `the stake of group ${group.autoScalingGroup} is a ${stake.role} stake`);
    // The live node minimum once the pool changed it on chain, else the publish-time default.
    const nodeMinimum = minStakeMist ?? DEFAULT_MIN_STAKE_MIST.node;
    const maxNodes = stake.amountMist / nodeMinimum;

    const attested = await deps.attestations.getLatest();
    if (!attested) throw forbidden('no_attestation', 'no verified attestation of the control-plane enclave yet');
    const platform = await deps.platformSettings.current();
    // A cluster attested with other boot settings gets no workers, not even a retry's earlier token.
    const serves = servesCluster(attested, platform.digest);
    if (!serves.ok) throw forbidden(serves.reason, serves.message);
    const attestedCa = caPemSha256(attested.caCertPem);
    const at = now();

    /** The token secret of an entry, or undefined when its ciphertext is not one the enclave sealed for this binding. */
    const open = async (entry: BootstrapPoolEntry): Promise<string | undefined> => {
      const context = bootstrapTokenEncryptionContext({ clusterId: settings.CLUSTER_ID, tokenId: entry.tokenId, expiresAt: entry.expiresAt, caSha256: entry.caSha256 });
      try {
        const secret = await deps.cipher.decrypt(Buffer.from(entry.ciphertext, 'base64'), context);
        return BOOTSTRAP_TOKEN_SECRET_PATTERN.test(secret) ? secret : undefined;
      } catch (error) {
        // Sealed under another key or binding (edited attributes, another cluster or purpose): not a pool entry.
        if ((error as { name?: string })?.name === 'InvalidCiphertextException') return undefined;
        throw error;
      }
    };
    const answer = (entry: BootstrapPoolEntry, secret: string) =>
      json(200, { server: settings.SERVER_URL, token: formatJoinToken(attested.caCertPem, entry.tokenId, secret), nodeName: instanceId, expiresAt: entry.expiresAt });

    /**
     * An instance that is already in the index. Its own retry (the answer of a committed admission was
     * lost) gets the same token again while it is fresh; anything else is a second join.
     */
    const admittedBefore = async (node: NodeRecord | undefined): Promise<HttpResult> => {
      const sent = node?.bootstrap;
      const refuse = () => forbidden('already_joined', `instance ${instanceId} has joined before; node names are never reused`);
      if (!node || node.status !== 'joined' || !sent || node.stakeId !== group.stakeId) throw refuse();
      const joinedAt = Date.parse(node.joinedAt);
      if (!(at.getTime() < joinedAt + BOOTSTRAP_TOKEN_TIMING.resendWindowMs) || !(at.getTime() < Date.parse(sent.expiresAt))) throw refuse();
      if (sent.caSha256 !== attestedCa) throw forbidden('ca_not_attested', 'the cluster CA changed since this instance was admitted');
      const secret = await open(sent);
      if (!secret) throw refuse();
      logger.info('node admission answered again', { instanceId, tokenId: sent.tokenId });
      return answer(sent, secret);
    };

    const existing = await deps.registry.getNode(instanceId);
    if (existing) return admittedBefore(existing);
    if (maxNodes < 1n) throw forbidden('stake_insufficient', `the node stake of group ${group.autoScalingGroup} covers no node`);

    const claimable = (await deps.registry.listBootstrapPool()).filter(
      (e) => wellFormed(e) && Date.parse(e.expiresAt) - at.getTime() >= BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs,
    );
    // Concurrent joins start from different entries instead of all racing for the first.
    let otherCa = false;
    let tried = 0;
    for (const entry of shuffled(claimable)) {
      // An entry minted for another CA (the host's own, or before the CA changed) is never handed out.
      if (entry.caSha256 !== attestedCa) {
        otherCa = true;
        continue;
      }
      if (tried++ >= MAX_CANDIDATES) break;
      const secret = await open(entry);
      if (!secret) continue;
      const admitted = await deps.registry.admit({ instanceId, stakeId: group.stakeId, autoScalingGroup: group.autoScalingGroup, maxNodes, token: entry, now: at });
      if (admitted.admitted) {
        logger.info('node admitted', { instanceId, autoScalingGroup: group.autoScalingGroup, stakeId: group.stakeId, tokenId: entry.tokenId });
        return answer(entry, secret);
      }
      // Our own record can exist now: the SDK retried a transaction that had committed, or a concurrent retry won.
      if (admitted.reason === 'already_joined') return admittedBefore(await deps.registry.getNode(instanceId));
      if (admitted.reason === 'stake_insufficient') {
        throw forbidden('stake_insufficient', `the node stake of group ${group.autoScalingGroup} covers ${maxNodes} node(s), all taken`);
      }
      // token_taken: another join claimed this entry first.
    }
    if (otherCa) throw forbidden('ca_not_attested', 'the available bootstrap tokens were not minted for the cluster CA the enclave attested');
    throw forbidden('no_join_token', 'no bootstrap token is available yet; the control plane refills its pool continuously, retry');
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
      ec2: new EC2Client(clientConfig),
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
