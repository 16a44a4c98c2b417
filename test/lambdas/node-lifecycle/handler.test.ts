// Scale-in: the terminating lifecycle action of a worker is completed exactly once, after the node was
// marked gone in the index (moto DynamoDB). moto does not implement CompleteLifecycleAction, so the
// completion is a recording function injected in its place.
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { DeleteTableCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { createHandler, type LifecycleCompletion, type NodeLifecycleSettings } from '../../../lambdas/node-lifecycle/handler';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { clients, createIndexTable, opaquePoolEntry } from '../../support/worker-fixtures';

const TABLE = 'index';
const GENERAL = 'k3s-daas-test-workers-general';
const HOOK = 'k3s-daas-drain-on-terminate';
const STAKE = '0x' + '0'.repeat(63) + 'c';
const INSTANCE = 'i-0123456789abcdef0';

const settings: NodeLifecycleSettings = {
  TABLE_NAME: TABLE,
  CLUSTER_ID: 'k3s-daas-test',
  WORKER_GROUPS: [{ autoScalingGroup: GENERAL, stakeId: STAKE }],
  LIFECYCLE_HOOK_NAME: HOOK,
};

let moto: Moto;
let registry: NodeRegistry;
let c: ReturnType<typeof clients>;
let completions: LifecycleCompletion[];
let failNext: Error[];

function lifecycleEvent(overrides: Record<string, string> = {}, detailType = 'EC2 Instance-terminate Lifecycle Action'): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id: 'evt-1',
    'detail-type': detailType,
    source: 'aws.autoscaling',
    account: '123456789012',
    time: '2026-11-23T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      AutoScalingGroupName: GENERAL,
      LifecycleHookName: HOOK,
      EC2InstanceId: INSTANCE,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
      ...overrides,
    },
  };
}

function handler(deliveryRegistry: NodeRegistry = registry) {
  return createHandler({
    settings,
    registry: deliveryRegistry,
    complete: async (completion) => {
      const failure = failNext.shift();
      if (failure) throw failure;
      completions.push(completion);
    },
  });
}

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  c = clients(moto.endpoint);
  registry = new NodeRegistry(c.db, TABLE);
  await createIndexTable(c.db, TABLE);
  completions = [];
  failNext = [];
});

async function joinNode() {
  expect(await registry.admit({ instanceId: INSTANCE, stakeId: STAKE, autoScalingGroup: GENERAL, maxNodes: 3n, token: await opaquePoolEntry(registry), now: new Date() })).toEqual({ admitted: true });
}

describeWithMoto('terminating lifecycle action handler', () => {
  it('marks the node gone, frees its stake slot and completes the action with CONTINUE', async () => {
    await joinNode();
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'completed', result: 'CONTINUE' });
    expect(completions).toEqual([
      { autoScalingGroupName: GENERAL, lifecycleHookName: HOOK, lifecycleActionToken: '87654321-4321-4321-4321-210987654321', instanceId: INSTANCE, result: 'CONTINUE' },
    ]);
    expect(await registry.getNode(INSTANCE)).toMatchObject({ status: 'gone', stakeId: STAKE });
    expect(await registry.joinedCount(STAKE)).toBe(0n);
  });

  it('completes exactly once when the same event is delivered again, also when a second delivery overtakes the first', async () => {
    await joinNode();
    // moto does not serialize concurrent conditional writes like DynamoDB, so a Promise.all race would only
    // be flaky there: a second delivery runs in full at the worst moment instead, just before the first
    // one claims the action (after it marked the node gone).
    let overtaking: Awaited<ReturnType<ReturnType<typeof handler>>> | undefined;
    const interleaving = {
      send: async (command: unknown) => {
        if (!overtaking && command instanceof PutItemCommand && command.input.Item?.entity?.S === 'lifecycle-action') {
          overtaking = await handler()(lifecycleEvent());
        }
        return c.db.send(command as never);
      },
    } as unknown as DynamoDBClient;
    const first = await handler(new NodeRegistry(interleaving, TABLE))(lifecycleEvent());
    expect(overtaking).toEqual({ outcome: 'completed', result: 'CONTINUE' });
    expect(first).toEqual({ outcome: 'duplicate' });
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'duplicate' });
    expect(completions).toHaveLength(1);
    expect(await registry.joinedCount(STAKE)).toBe(0n);
  });

  it('gives the claim back when completing fails transiently, so the retried event completes it once', async () => {
    await joinNode();
    failNext.push(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(handler()(lifecycleEvent())).rejects.toThrow('Rate exceeded');
    expect(completions).toHaveLength(0);
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'completed', result: 'CONTINUE' });
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'duplicate' });
    expect(completions).toHaveLength(1);
  });

  it('does not retry when Auto Scaling says the action is no longer pending', async () => {
    await joinNode();
    failNext.push(Object.assign(new Error('No active Lifecycle Action found with token'), { name: 'ValidationError' }));
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'expired', result: 'CONTINUE' });
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'duplicate' });
  });

  it('records an instance that never joined as gone, so its name can never join later', async () => {
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'completed', result: 'CONTINUE' });
    expect(await registry.getNode(INSTANCE)).toMatchObject({ status: 'gone' });
    expect(await registry.admit({ instanceId: INSTANCE, stakeId: STAKE, autoScalingGroup: GENERAL, maxNodes: 3n, token: await opaquePoolEntry(registry), now: new Date() })).toEqual({
      admitted: false,
      reason: 'already_joined',
    });
  });

  it('completes with ABANDON when the index cannot be updated', async () => {
    await c.db.send(new DeleteTableCommand({ TableName: TABLE }));
    expect(await handler()(lifecycleEvent())).toEqual({ outcome: 'completed', result: 'ABANDON' });
    expect(completions.map((x) => x.result)).toEqual(['ABANDON']);
  });

  it('ignores events of other groups, other hooks, other transitions and malformed details without completing anything', async () => {
    const h = handler();
    expect((await h(lifecycleEvent({ AutoScalingGroupName: 'someone-elses-asg' }))).outcome).toBe('ignored');
    expect((await h(lifecycleEvent({ LifecycleHookName: 'other-hook' }))).outcome).toBe('ignored');
    expect((await h(lifecycleEvent({ LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }))).outcome).toBe('ignored');
    expect((await h(lifecycleEvent({ EC2InstanceId: 'not-an-instance' }))).outcome).toBe('ignored');
    expect((await h(lifecycleEvent({}, 'EC2 Instance Launch Successful'))).outcome).toBe('ignored');
    expect((await h({ detail: null } as unknown as EventBridgeEvent<string, unknown>)).outcome).toBe('ignored');
    expect(completions).toHaveLength(0);
  });
});
