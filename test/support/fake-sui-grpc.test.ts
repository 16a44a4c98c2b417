import { describe, expect, it } from '@jest/globals';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { FakeSuiGrpcTransport } from './fake-sui-grpc';

describe('FakeSuiGrpcTransport', () => {
  it('serves a streamed ListEvents page through the real SDK decoding', async () => {
    const transport = new FakeSuiGrpcTransport().on('sui.rpc.v2.LedgerService/ListEvents', () => [
      { watermark: { cursor: new Uint8Array([1]) } },
      {
        event: {
          packageId: '0x2', module: 'staking', sender: '0x1', eventType: '0x2::staking::StakeWithdrawn',
          contents: { name: '0x2::staking::StakeWithdrawn', value: new Uint8Array([9, 9]) },
          checkpoint: 7n, transactionDigest: 'D1', eventIndex: 0,
        },
      },
    ]);
    const client = new SuiGrpcClient({ network: 'testnet', transport });
    const page = await client.listEvents({ limit: 10 });
    expect(transport.calls[0].method).toBe('sui.rpc.v2.LedgerService/ListEvents');
    expect(page.events).toHaveLength(1);
    expect(page.events[0].eventType).toBe('0x' + '0'.repeat(63) + '2::staking::StakeWithdrawn');
    expect(page.events[0].checkpoint).toBe('7');
  });

  it('fails unregistered methods instead of answering', async () => {
    const client = new SuiGrpcClient({ network: 'testnet', transport: new FakeSuiGrpcTransport() });
    await expect(client.getReferenceGasPrice()).rejects.toThrow(/no handler/);
  });
});
