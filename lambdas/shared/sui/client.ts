// One way to build a gRPC Sui client (JSON-RPC is switched off, DESIGN §2). Commercial endpoints want an
// auth header; the header value is a credential and is only ever put on the wire.
import { SuiGrpcClient } from '@mysten/sui/grpc';
import type { RpcTransport } from '@protobuf-ts/runtime-rpc';
import type { SuiNetwork } from './networks';

export interface SuiClientOptions {
  network: SuiNetwork;
  grpcUrl: string;
  /** Sent on every call, e.g. `{ name: 'x-api-key', value: '…' }`. */
  authHeader?: { name: string; value: string };
  /** Tests pass an in-process transport; production uses gRPC-web over fetch to `grpcUrl`. */
  transport?: RpcTransport;
  /** The fetch the gRPC-web transport uses (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/** `name: value` (as in an HTTP header line) → parts; throws on anything else. */
export function parseAuthHeader(line: string): { name: string; value: string } {
  const match = /^([A-Za-z0-9-]+):\s*(\S.*)$/.exec(line.trim());
  if (!match) throw new Error('the gRPC auth header must look like "<header-name>: <value>"');
  return { name: match[1].toLowerCase(), value: match[2].trim() };
}

export function createSuiClient(options: SuiClientOptions): SuiGrpcClient {
  const meta: Record<string, string> = options.authHeader ? { [options.authHeader.name]: options.authHeader.value } : {};
  if (options.transport) {
    // A custom transport gets the header through per-call metadata, as the fetch transport would.
    return new SuiGrpcClient({ network: options.network, transport: withMeta(options.transport, meta) });
  }
  return new SuiGrpcClient({ network: options.network, baseUrl: options.grpcUrl, meta, ...(options.fetch ? { fetch: options.fetch } : {}) });
}

function withMeta(transport: RpcTransport, meta: Record<string, string>): RpcTransport {
  if (Object.keys(meta).length === 0) return transport;
  return {
    mergeOptions: (options) => {
      const merged = transport.mergeOptions(options);
      return { ...merged, meta: { ...meta, ...(merged.meta ?? {}) } };
    },
    unary: (method, input, options) => transport.unary(method, input, options),
    serverStreaming: (method, input, options) => transport.serverStreaming(method, input, options),
    clientStreaming: (method, options) => transport.clientStreaming(method, options),
    duplex: (method, options) => transport.duplex(method, options),
  };
}
