// The indexer's LedgerService-only client (lambdas/indexer/ledger-client.ts) is the Sui SDK's own, imported
// by file because the package does not export it: if an SDK upgrade moves or replaces it, this fails
// instead of the indexer reading through a stale copy.
import { describe, expect, it } from '@jest/globals';
import { SuiGrpcClient } from '@mysten/sui/grpc';
import { LedgerServiceClient, ledgerReader } from '../../../lambdas/indexer/ledger-client';

describe('the indexer\'s ledger client', () => {
  it('is the very LedgerService client class SuiGrpcClient builds, with the same service and methods', () => {
    const sdk = new SuiGrpcClient({ network: 'testnet', baseUrl: 'http://127.0.0.1:9' });
    const ours = ledgerReader({ baseUrl: 'http://127.0.0.1:9' });
    expect(sdk.ledgerService).toBeInstanceOf(LedgerServiceClient);
    expect(ours.ledgerService).toBeInstanceOf(LedgerServiceClient);
    expect(ours.ledgerService.typeName).toBe('sui.rpc.v2.LedgerService');
    expect(ours.ledgerService.methods.map((m) => m.name)).toEqual(sdk.ledgerService.methods.map((m) => m.name));
  });

  it('sends what SuiGrpcClient sends: the protocol-version header and the caller\'s metadata', () => {
    const sdk = new SuiGrpcClient({ network: 'testnet', baseUrl: 'http://127.0.0.1:9', meta: { 'x-api-key': 'k' } });
    const ours = ledgerReader({ baseUrl: 'http://127.0.0.1:9', meta: { 'x-api-key': 'k' } });
    const options = (client: { ledgerService: LedgerServiceClient }) =>
      (client.ledgerService as unknown as { _transport: { mergeOptions(o?: object): { meta?: Record<string, string> } } })._transport.mergeOptions({}).meta;
    expect(options(ours)).toEqual(options(sdk));
    expect(options(ours)).toMatchObject({ 'x-api-key': 'k', 'x-sui-client-protocol-version': expect.any(String) });
  });
});
