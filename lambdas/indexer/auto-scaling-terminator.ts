// The EC2 side of eviction. Describe uses an instance-id filter rather than InstanceIds so that ids EC2
// no longer knows are simply absent instead of failing the whole call.
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { InstanceApiError, type InstanceTerminator } from './eviction';

/**
 * The SDK waits forever on a call that hangs by default. Eviction calls must fail well before the
 * Lambda deadline instead (the indexer's shared client budget), so the run records the stake for the
 * next run and moves the cursor on.
 */
export function evictionEc2Client(config: EC2ClientConfig = {}): EC2Client {
  return new EC2Client({ ...awsClientConfig('indexer'), ...config });
}

export class Ec2InstanceTerminator implements InstanceTerminator {
  constructor(private readonly ec2: EC2Client = evictionEc2Client()) {}

  async describeStates(instanceIds: readonly string[]): Promise<Map<string, string>> {
    const states = new Map<string, string>();
    let nextToken: string | undefined;
    do {
      const res = await send('DescribeInstances', () => this.ec2.send(new DescribeInstancesCommand({
        Filters: [{ Name: 'instance-id', Values: [...instanceIds] }],
        NextToken: nextToken,
      })));
      for (const reservation of res.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          if (instance.InstanceId && instance.State?.Name) states.set(instance.InstanceId, instance.State.Name);
        }
      }
      nextToken = res.NextToken;
    } while (nextToken);
    return states;
  }

  async terminate(instanceIds: readonly string[]): Promise<void> {
    await send('TerminateInstances', () => this.ec2.send(new TerminateInstancesCommand({ InstanceIds: [...instanceIds] })));
  }
}

async function send<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new InstanceApiError(`${what} failed (${reason})`, { cause: error });
  }
}
