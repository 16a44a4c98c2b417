// The indexer reads the chain through one gRPC service, LedgerService (ListEvents, GetServiceInfo,
// GetCheckpoint). SuiGrpcClient constructs every service client and its core client (transaction
// building, BCS, MVR): ~110 KB of cold-start bundle the indexer never runs. This is the SDK's own
// generated LedgerService client over the SDK's own transport (which sends the protocol-version header
// and decodes gRPC status messages as SuiGrpcClient's does).
import { GrpcWebFetchTransport } from '@mysten/sui/grpc';
// The generated client is not in the package's exports map, so it is imported by file; the indexer's
// tests check it is the very class SuiGrpcClient uses for `ledgerService`.
import { LedgerServiceClient } from '../../node_modules/@mysten/sui/dist/grpc/proto/sui/rpc/v2/ledger_service.client.mjs';

export { LedgerServiceClient };

/** What GrpcEventSource reads through: SuiGrpcClient has this shape too. */
export interface LedgerReader {
  readonly ledgerService: LedgerServiceClient;
}

export function ledgerReader(options: { baseUrl: string; meta?: Record<string, string> }): LedgerReader {
  return { ledgerService: new LedgerServiceClient(new GrpcWebFetchTransport({ baseUrl: options.baseUrl, meta: options.meta })) };
}
