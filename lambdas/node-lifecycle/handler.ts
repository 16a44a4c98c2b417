// EventBridge "EC2 Instance-terminate Lifecycle Action" of this cluster's worker groups (DESIGN §2 step 7).
//
// Scale-in of a worker:
//  1. This handler marks the node `gone` in the index (its slot under the stake is freed and its name,
//     the instance id, can never join again) and completes the lifecycle action: CONTINUE, or ABANDON
//     when the index could not be updated. For a terminating hook both let the termination proceed;
//     ABANDON skips any later hook and records that the departure was not clean.
//  2. The instance then shuts down. The kubelet's graceful node shutdown (configured by the worker
//     bootstrap) terminates its pods, and the `k3s-daas-leave` unit deletes the node's own Node object
//     before the agent stops, so the node never lingers NotReady. For anything that misses that path (a
//     hard power-off), the `gone` record is the contract with the control plane: a supervisor that
//     reconciles Node objects against the index deletes those whose record is `gone` (docs/workers.md).
//
// EventBridge may deliver an event more than once and Lambda retries failed async invocations, so the
// completion is claimed with a conditional write on the action token first: exactly one delivery
// completes the action.
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { COMMON_ENV, readEnv, type EnvOf } from '../shared/runtime/env';
import { INSTANCE_ID_PATTERN, NodeRegistry, WORKER_GROUPS_ENV } from '../shared/nodes/node-registry';
import { logger } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';

export const NODE_LIFECYCLE_ENV = {
  ...COMMON_ENV,
  WORKER_GROUPS: WORKER_GROUPS_ENV,
  LIFECYCLE_HOOK_NAME: z.string().check(z.minLength(1)),
};

export type NodeLifecycleSettings = EnvOf<typeof NODE_LIFECYCLE_ENV>;

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

export interface LifecycleCompletion {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  lifecycleActionToken: string;
  instanceId: string;
  result: LifecycleResult;
}

/** Completes a lifecycle action; the real one calls Auto Scaling, tests record the calls. */
export type CompleteLifecycleAction = (completion: LifecycleCompletion) => Promise<void>;

export function autoScalingCompleter(client: AutoScalingClient): CompleteLifecycleAction {
  return async (c) => {
    await client.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: c.autoScalingGroupName,
        LifecycleHookName: c.lifecycleHookName,
        LifecycleActionToken: c.lifecycleActionToken,
        InstanceId: c.instanceId,
        LifecycleActionResult: c.result,
      }),
    );
  };
}

export interface NodeLifecycleDeps {
  settings: NodeLifecycleSettings;
  registry: NodeRegistry;
  complete: CompleteLifecycleAction;
  now?: () => Date;
}

const DetailSchema = z.object({
  LifecycleActionToken: z.string().check(z.regex(/^[A-Za-z0-9-]{1,64}$/)),
  AutoScalingGroupName: z.string().check(z.minLength(1)),
  LifecycleHookName: z.string().check(z.minLength(1)),
  EC2InstanceId: z.string().check(z.regex(INSTANCE_ID_PATTERN)),
  LifecycleTransition: z.literal('autoscaling:EC2_INSTANCE_TERMINATING'),
});

export type LifecycleOutcome =
  | { outcome: 'ignored'; why: string }
  | { outcome: 'duplicate' }
  | { outcome: 'completed'; result: LifecycleResult }
  | { outcome: 'expired'; result: LifecycleResult };

export function createHandler(deps: NodeLifecycleDeps): (event: EventBridgeEvent<string, unknown>) => Promise<LifecycleOutcome> {
  const { settings, registry } = deps;
  const now = deps.now ?? (() => new Date());
  const groups = new Map(settings.WORKER_GROUPS.map((g) => [g.autoScalingGroup, g]));

  return async (event) => {
    const parsed = DetailSchema.safeParse(event?.detail);
    // Retrying a malformed or foreign event cannot help; the hook's timeout still releases the instance.
    if (event?.['detail-type'] !== 'EC2 Instance-terminate Lifecycle Action' || !parsed.success) {
      logger.warn('ignoring an event that is not a terminating lifecycle action', { detailType: event?.['detail-type'] });
      return { outcome: 'ignored', why: 'not a terminating lifecycle action' };
    }
    const detail = parsed.data;
    const group = groups.get(detail.AutoScalingGroupName);
    if (!group || detail.LifecycleHookName !== settings.LIFECYCLE_HOOK_NAME) {
      logger.warn('ignoring a lifecycle action of another group or hook', { group: detail.AutoScalingGroupName, hook: detail.LifecycleHookName });
      return { outcome: 'ignored', why: 'not a worker group hook of this cluster' };
    }
    const instanceId = detail.EC2InstanceId;

    let result: LifecycleResult = 'CONTINUE';
    try {
      const changed = await registry.markGone({ instanceId, stakeId: group.stakeId, autoScalingGroup: group.autoScalingGroup, now: now() });
      logger.info(changed ? 'node marked gone' : 'node was already gone', { instanceId });
    } catch (error) {
      logger.error('could not mark the node gone; abandoning the lifecycle action', { instanceId, error: String(error) });
      result = 'ABANDON';
    }

    let claimed = true;
    try {
      if (!(await registry.claimLifecycleAction(detail.LifecycleActionToken, instanceId, now()))) {
        logger.info('lifecycle action already completed by an earlier delivery', { instanceId });
        return { outcome: 'duplicate' };
      }
    } catch (error) {
      // Without the index we cannot deduplicate; completing twice is refused harmlessly by Auto Scaling,
      // while not completing would hold the instance until the hook times out.
      logger.error('could not claim the lifecycle action; completing without deduplication', { instanceId, error: String(error) });
      claimed = false;
      result = 'ABANDON';
    }

    const completion = {
      autoScalingGroupName: detail.AutoScalingGroupName,
      lifecycleHookName: detail.LifecycleHookName,
      lifecycleActionToken: detail.LifecycleActionToken,
      instanceId,
      result,
    };
    try {
      await deps.complete(completion);
    } catch (error) {
      // ValidationError: the action is no longer pending (timed out or completed elsewhere); nothing to redo.
      if ((error as { name?: string })?.name === 'ValidationError') {
        logger.warn('lifecycle action no longer pending', { instanceId, error: String(error) });
        return { outcome: 'expired', result };
      }
      // Anything else is transient: give the claim back so the retried event completes the action.
      if (claimed) await registry.releaseLifecycleAction(detail.LifecycleActionToken);
      throw error;
    }
    logger.info('lifecycle action completed', { instanceId, result });
    return { outcome: 'completed', result };
  };
}

let live: ReturnType<typeof createHandler> | undefined;

export const handler = (event: EventBridgeEvent<string, unknown>): Promise<LifecycleOutcome> => {
  if (!live) {
    const settings = readEnv(NODE_LIFECYCLE_ENV);
    live = createHandler({
      settings,
      registry: new NodeRegistry(new DynamoDBClient(awsClientConfig('node-lifecycle')), settings.TABLE_NAME),
      complete: autoScalingCompleter(new AutoScalingClient(awsClientConfig('node-lifecycle'))),
    });
  }
  return live(event);
};
