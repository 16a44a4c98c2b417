import type { SuiGrpcClient } from '@mysten/sui/grpc';
import type { K3sRelease } from '../lambdas/shared/nodes/k3s-release';
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
  /** stderr is a terminal: progress is drawn there (a spinner); on a pipe nothing is. Default false. */
  readonly errIsTTY?: boolean;
  /**
   * The K3s release `node join` installs. Default: the pin (K3S_RELEASE); only in-process tests set another,
   * to serve a binary of their own — no flag or variable reaches it.
   */
  readonly k3sRelease?: K3sRelease;
}

// The error classes live in ./errors; re-exported so commands keep one import for "what a command may use".
export { CliError, ConfigError, NetworkError, RefusedError, UsageError, VerificationError, ExitCode } from './errors';
