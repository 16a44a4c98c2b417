// The EC2 side of eviction reports every SDK failure as InstanceApiError, the one error the indexer
// survives (it retries the eviction next run instead of stalling the whole index).
import { describe, expect, it } from '@jest/globals';
import { EC2Client } from '@aws-sdk/client-ec2';
import * as http from 'node:http';
import { Ec2InstanceTerminator, evictionEc2Client } from '../../../lambdas/indexer/ec2-terminator';
import { InstanceApiError } from '../../../lambdas/indexer/eviction';

const unreachable = () =>
  new EC2Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });

describe('Ec2InstanceTerminator', () => {
  it('reports an unreachable EC2 API on describe and terminate as InstanceApiError, naming the call', async () => {
    const ec2 = new Ec2InstanceTerminator(unreachable());
    await expect(ec2.describeStates(['i-0123456789abcdef0'])).rejects.toThrow(InstanceApiError);
    await expect(ec2.terminate(['i-0123456789abcdef0'])).rejects.toThrow(/^TerminateInstances failed/);
  });

  it('reports a refusal (e.g. the tag condition denies it) as InstanceApiError with the cause kept', async () => {
    const client = unreachable();
    const denied = Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation' });
    client.send = (async () => {
      throw denied;
    }) as typeof client.send;
    const error = await new Ec2InstanceTerminator(client).terminate(['i-0123456789abcdef0']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InstanceApiError);
    expect((error as Error).message).toContain('UnauthorizedOperation');
    expect((error as Error).cause).toBe(denied);
  });

  it('gives up on an EC2 endpoint that never answers well before the Lambda deadline (the SDK alone waits forever)', async () => {
    const server = http.createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const ec2 = new Ec2InstanceTerminator(evictionEc2Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
      // The outcome, not the speed: the call fails (the SDK alone would hang until the test timeout).
      await expect(ec2.describeStates(['i-0123456789abcdef0'])).rejects.toThrow(InstanceApiError);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
