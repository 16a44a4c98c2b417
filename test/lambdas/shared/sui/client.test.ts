import { describe, expect, it } from '@jest/globals';
import { createSuiClient, parseAuthHeader } from '../../../../lambdas/shared/sui/client';
import { FakeSuiGrpcTransport } from '../../../support/fake-sui-grpc';

describe('createSuiClient', () => {
  const epoch = () => ({ epoch: { referenceGasPrice: 750n } });

  it('sends the auth header on every call', async () => {
    const transport = new FakeSuiGrpcTransport().on('sui.rpc.v2.LedgerService/GetEpoch', epoch);
    const client = createSuiClient({ network: 'testnet', grpcUrl: 'https://x', transport, authHeader: parseAuthHeader('X-Api-Key: s3cret') });
    expect((await client.getReferenceGasPrice()).referenceGasPrice).toBe('750');
    expect(transport.calls[0].headers['x-api-key']).toBe('s3cret');
  });

  it('sends no auth header when none is configured', async () => {
    const transport = new FakeSuiGrpcTransport().on('sui.rpc.v2.LedgerService/GetEpoch', epoch);
    await createSuiClient({ network: 'testnet', grpcUrl: 'https://x', transport }).getReferenceGasPrice();
    expect(transport.calls[0].headers['x-api-key']).toBeUndefined();
  });

  it.each(['no-colon', ': value', 'bad header: v', 'x-key:   '])('rejects the malformed auth header %j', (line) => {
    expect(() => parseAuthHeader(line)).toThrow(/<header-name>: <value>/);
  });
});
