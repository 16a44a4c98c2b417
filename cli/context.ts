import type { SuiGrpcClient } from '@mysten/sui/grpc';
import type { SuiClientOptions } from '../lambdas/shared/sui/client';

// What a CLI command may touch, passed in so tests run commands in-process against fakes
// (a fake gRPC transport, a local HTTP server, a temporary home directory).
export interface CliContext {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly homeDir: string;
  readonly now: () => Date;
  readonly fetch: typeof fetch;
  /** Builds the Sui gRPC client; tests pass one over a fake transport. Default: `createSuiClient`. */
  readonly suiClient?: (options: SuiClientOptions) => SuiGrpcClient;
}

/** An error meant for the user: printed as one line `k3s-daas: <message>`, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
