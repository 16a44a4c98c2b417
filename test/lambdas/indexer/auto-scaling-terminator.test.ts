// The Auto Scaling side of eviction: against moto's worker groups it reports what the groups know (ids
// they no longer hold are absent), terminates through the group while keeping its desired capacity, and
// reports every SDK failure as InstanceApiError, the one error the indexer survives (it retries the
// eviction next run instead of stalling the whole index).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import * as http from 'node:http';
import { AutoScalingInstanceTerminator, evictionAutoScalingClient, instanceStateOf } from '../../../lambdas/indexer/auto-scaling-terminator';
import { InstanceApiError } from '../../../lambdas/indexer/eviction';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { clients, createWorkerGroup } from '../../support/worker-fixtures';

const CREDENTIALS = { accessKeyId: 'a', secretAccessKey: 'b' };
const unreachable = () => new AutoScalingClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1, credentials: CREDENTIALS });
const UNKNOWN = 'i-0123456789abcdef0';

describe('AutoScalingInstanceTerminator without a working API', () => {
  it('reports an unreachable Auto Scaling API on describe and terminate as InstanceApiError, naming the call', async () => {
    const terminator = new AutoScalingInstanceTerminator(unreachable());
    await expect(terminator.describeStates([UNKNOWN])).rejects.toThrow(/^DescribeAutoScalingInstances failed/);
    const failure = await terminator.terminate([UNKNOWN]).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InstanceApiError);
    expect((failure as Error).message).toMatch(/^TerminateInstanceInAutoScalingGroup failed/);
  });

  it('reports a refusal (e.g. IAM denies the group) as InstanceApiError with the cause kept, after trying every instance', async () => {
    const client = unreachable();
    const denied = Object.assign(new Error('User is not authorized to perform: autoscaling:TerminateInstanceInAutoScalingGroup'), { name: 'AccessDenied' });
    const tried: string[] = [];
    client.send = (async (command: TerminateInstanceInAutoScalingGroupCommand) => {
      tried.push(command.input.InstanceId!);
      throw denied;
    }) as typeof client.send;
    const error = await new AutoScalingInstanceTerminator(client).terminate(['i-1', 'i-2', 'i-3', 'i-4', 'i-5']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InstanceApiError);
    expect((error as Error).message).toContain('AccessDenied');
    expect((error as Error).cause).toBe(denied);
    expect(tried.sort()).toEqual(['i-1', 'i-2', 'i-3', 'i-4', 'i-5']);
  });

  it('takes an instance that left its group since the describe as done, and no other validation error', async () => {
    const client = unreachable();
    const notManaged = Object.assign(new Error(`Instance Id not found - No managed instance found for instance ID: ${UNKNOWN}`), { name: 'ValidationError' });
    const other = Object.assign(new Error('Termination is not allowed'), { name: 'ValidationError' });
    client.send = (async (command: TerminateInstanceInAutoScalingGroupCommand) => {
      throw command.input.InstanceId === UNKNOWN ? notManaged : other;
    }) as typeof client.send;
    await expect(new AutoScalingInstanceTerminator(client).terminate([UNKNOWN])).resolves.toBeUndefined();
    await expect(new AutoScalingInstanceTerminator(client).terminate(['i-2'])).rejects.toThrow(/Termination is not allowed/);
  });

  it('gives up on an endpoint that never answers well before the Lambda deadline (the SDK alone waits forever)', async () => {
    const server = http.createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const terminator = new AutoScalingInstanceTerminator(evictionAutoScalingClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS }));
      // The outcome, not the speed: the call fails (the SDK alone would hang until the test timeout).
      await expect(terminator.describeStates([UNKNOWN])).rejects.toThrow(InstanceApiError);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('speaks the EC2 state vocabulary the Evictor reads: terminating instances are gone, the rest still run', () => {
    expect(['Terminating', 'Terminating:Wait', 'Terminating:Proceed', 'Terminated'].map(instanceStateOf)).toEqual(['shutting-down', 'shutting-down', 'shutting-down', 'terminated']);
    expect(['Pending', 'Pending:Wait', 'InService', 'Standby', 'Detaching', 'Warmed:Stopped'].map(instanceStateOf)).toEqual(['pending', 'pending', 'running', 'running', 'running', 'running']);
  });
});

describeWithMoto('AutoScalingInstanceTerminator against worker groups', () => {
  let moto: Moto;
  let c: ReturnType<typeof clients>;
  let workers: string[];
  const GROUP = 'k3s-daas-test-workers-general';
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    c = clients(moto.endpoint);
    workers = await createWorkerGroup(c.ec2, c.autoScaling, GROUP, 3);
  }, 120_000);

  const terminator = () => new AutoScalingInstanceTerminator(c.autoScaling);

  it('describes the group\'s instances as running and leaves ids no group holds out (no error)', async () => {
    expect(await terminator().describeStates([...workers, UNKNOWN])).toEqual(new Map(workers.map((id) => [id, 'running'])));
  });

  it('describes more ids than one call takes, in batches', async () => {
    const many = [...Array.from({ length: 120 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`), workers[2]];
    expect(await terminator().describeStates(many)).toEqual(new Map([[workers[2], 'running']]));
  });

  it('terminates through the group without lowering its desired capacity, so the group replaces the instance', async () => {
    await terminator().terminate([workers[0], workers[1]]);
    const { Reservations = [] } = await c.ec2.send(new DescribeInstancesCommand({ InstanceIds: [workers[0], workers[1]] }));
    expect(Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name)).toEqual(['terminated', 'terminated']);
    const { AutoScalingGroups = [] } = await c.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }));
    expect(AutoScalingGroups[0]?.DesiredCapacity).toBe(3);
    const members = (AutoScalingGroups[0]?.Instances ?? []).map((i) => i.InstanceId);
    expect(members).toHaveLength(3);
    expect(members).not.toContain(workers[0]);
    // Gone from the group: a later describe (a replayed eviction) reports them absent, never running.
    const states = await terminator().describeStates([workers[0], workers[1], workers[2]]);
    expect(states).toEqual(new Map([[workers[2], 'running']]));
    const { AutoScalingInstances = [] } = await c.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [workers[0]] }));
    expect(AutoScalingInstances).toEqual([]);
  });
});
