// The CLI's failure classes and their exit codes (README "CLI", docs/cli.md). Scripts branch on the exit
// code, so each class of failure keeps its own number; the message is one line for people.

export const ExitCode = {
  Ok: 0,
  /** Anything not classified below: a local file that cannot be written, an unexpected error. */
  Failure: 1,
  /** Unknown command or option, missing or malformed argument or flag value. */
  Usage: 2,
  /** The setup is incomplete or unreadable: no Sui key, a broken keystore or client.yaml, an unknown network. */
  Config: 3,
  /** The endpoint could not be reached or did not answer in time (refused, DNS, TLS, timeout, reset). */
  Network: 4,
  /** The server or the chain answered and said no: an HTTP error answer, a Move abort, insufficient balance. */
  Refused: 5,
  /** A cryptographic check failed: attestation, KMS signature, PCRs, CA. Nothing was written or trusted. */
  Verification: 6,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The `error.kind` of a JSON error, one per exit code. */
export const ERROR_KIND: Readonly<Record<ExitCodeValue, string>> = {
  0: 'ok',
  1: 'failure',
  2: 'usage',
  3: 'config',
  4: 'network',
  5: 'refused',
  6: 'verification',
};

/** An error meant for the user: printed as one line `k3s-daas: <message>` (or JSON with --json). */
export class CliError extends Error {
  /** A stable machine-readable reason where one exists (e.g. the attestation reason code). */
  reason?: string;

  constructor(message: string, readonly exitCode: ExitCodeValue = ExitCode.Failure, options: { reason?: string } = {}) {
    super(message);
    this.reason = options.reason;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}

export class ConfigError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Config);
  }
}

export class NetworkError extends CliError {
  constructor(message: string, readonly networkCause: NetworkCause) {
    super(message, ExitCode.Network, { reason: networkCause });
  }
}

export class RefusedError extends CliError {
  constructor(message: string, options: { reason?: string } = {}) {
    super(message, ExitCode.Refused, options);
  }
}

export class VerificationError extends CliError {
  constructor(message: string, options: { reason?: string } = {}) {
    super(message, ExitCode.Verification, options);
  }
}

/** Why a network call failed, as the user needs to act on it. */
export type NetworkCause = 'refused' | 'dns' | 'timeout' | 'tls' | 'reset' | 'unreachable';

/**
 * For a step whose every failure is of one class (a verification, an answer check): an unclassified
 * failure — a plain Error, or a CliError still at the generic exit code — becomes that class; errors
 * already classified keep theirs.
 */
export function classifyAs(error: unknown, exitCode: ExitCodeValue): unknown {
  const unclassified = error instanceof CliError ? error.exitCode === ExitCode.Failure : error instanceof Error;
  if (!unclassified) return error;
  return new CliError((error as Error).message, exitCode, { reason: error instanceof CliError ? error.reason : undefined });
}

export function asVerificationFailure(error: unknown): unknown {
  return classifyAs(error, ExitCode.Verification);
}
