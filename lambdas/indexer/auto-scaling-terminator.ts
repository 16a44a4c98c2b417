// The Auto Scaling side of eviction: the worker groups describe and terminate their own instances, so
// the indexer needs no EC2 client (its schemas alone are ~550 KB of bundle) and no EC2 grant.
// DescribeAutoScalingInstances leaves ids the groups no longer know out of its answer (no error), which
// the Evictor reads as "already gone". TerminateInstanceInAutoScalingGroup keeps the desired capacity,
// so the group launches a replacement as it does after an EC2 termination (and that one joins only
// under a stake that may still admit it).
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClientConfig,
} from '@aws-sdk/client-auto-scaling';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { InstanceApiError, type InstanceTerminator } from './eviction';

/** DescribeAutoScalingInstances takes at most 50 ids per call. */
const DESCRIBE_BATCH = 50;
/** Terminations run a few at a time: one call per instance, within the Auto Scaling API's rate. */
const TERMINATE_CONCURRENCY = 4;

/**
 * The SDK waits forever on a call that hangs by default. Eviction calls must fail well before the
 * Lambda deadline instead (the indexer's shared client budget), so the run records the stake for the
 * next run and moves the cursor on.
 */
export function evictionAutoScalingClient(config: AutoScalingClientConfig = {}): AutoScalingClient {
  return new AutoScalingClient({ ...awsClientConfig('indexer'), ...config });
}

/**
 * A group's lifecycle state in the EC2 vocabulary InstanceTerminator speaks: terminating ones are
 * `shutting-down`, the rest (in service, standby, warm pool, detaching) still run and may be evicted.
 */
export function instanceStateOf(lifecycleState: string): string {
  if (lifecycleState === 'Terminated') return 'terminated';
  if (lifecycleState.startsWith('Terminating')) return 'shutting-down';
  if (lifecycleState.startsWith('Pending')) return 'pending';
  return 'running';
}

/** Auto Scaling's answer to a termination of an instance it no longer manages (it left its group). */
const NOT_MANAGED = /no managed instance found|instance id not found/i;

export class AutoScalingInstanceTerminator implements InstanceTerminator {
  constructor(private readonly autoScaling: AutoScalingClient = evictionAutoScalingClient()) {}

  async describeStates(instanceIds: readonly string[]): Promise<Map<string, string>> {
    const states = new Map<string, string>();
    for (let start = 0; start < instanceIds.length; start += DESCRIBE_BATCH) {
      const batch = instanceIds.slice(start, start + DESCRIBE_BATCH);
      let nextToken: string | undefined;
      do {
        const res = await send('DescribeAutoScalingInstances', () =>
          this.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: batch, MaxRecords: DESCRIBE_BATCH, NextToken: nextToken })),
        );
        for (const instance of res.AutoScalingInstances ?? []) {
          if (instance.InstanceId && instance.LifecycleState) states.set(instance.InstanceId, instanceStateOf(instance.LifecycleState));
        }
        nextToken = res.NextToken;
      } while (nextToken);
    }
    return states;
  }

  async terminate(instanceIds: readonly string[]): Promise<void> {
    const queue = [...instanceIds];
    const failures: InstanceApiError[] = [];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          await this.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }));
        } catch (error) {
          // Gone from its group since the describe: nothing is left to terminate through it.
          if (isNotManaged(error)) continue;
          failures.push(apiError('TerminateInstanceInAutoScalingGroup', error));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(TERMINATE_CONCURRENCY, queue.length) }, worker));
    // Every instance was tried. The Evictor retries the stake next run; those terminated now are then
    // described as terminating and only recorded.
    if (failures.length > 0) throw failures[0];
  }
}

function isNotManaged(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ValidationError' && NOT_MANAGED.test((error as Error).message ?? '');
}

function apiError(what: string, error: unknown): InstanceApiError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new InstanceApiError(`${what} failed (${reason})`, { cause: error });
}

async function send<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw apiError(what, error);
  }
}
