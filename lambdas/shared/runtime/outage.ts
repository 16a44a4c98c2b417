// One rule for "a dependency could not answer" (DESIGN §4, §6): the index table, KMS, EC2, Auto Scaling,
// Secrets Manager or a Sui node down, throttling, timing out or unreachable. Such a failure is not the
// caller's fault and not a bug: every API route answers it with a retryable 503 `backend_unavailable`
// (the TokenReview route with 500, so the apiserver retries and does not cache). Anything else that
// escapes a handler stays a 500 `internal_error`.

/**
 * Base of the domain errors that mean "a backend could not answer" (`IndexUnavailableError`,
 * `SignatureVerifierUnavailableError`, `WebhookSecretUnavailableError`, …), so the one rule below
 * recognises them without knowing each.
 */
export class DependencyUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DependencyUnavailableError';
  }
}

/** The reason code of an outage answer, unless the error names a more precise one (`index_stale`). */
export const OUTAGE_CODE = 'backend_unavailable';

/** The reason code to answer an outage with: the domain error's own `code` (e.g. `index_stale`), else `backend_unavailable`. */
export function outageCode(error: unknown): string {
  const code = error instanceof DependencyUnavailableError ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[a-z][a-z_]*$/.test(code) ? code : OUTAGE_CODE;
}

// What the SDK's own retry classification treats as transient (`@smithy/core` retry: TimeoutError,
// socket errors, 5xx, throttling); after the bounded retries are spent, the same errors are an outage.
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const THROTTLING_NAMES = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'RequestThrottledException', 'TooManyRequestsException',
  'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'RequestThrottled', 'LimitExceededException',
  'BandwidthLimitExceeded', 'SlowDown', 'PriorRequestNotComplete', 'EC2ThrottledException', 'RequestLimitExceededException',
]);
// Service-side "try again" errors that come back with a 4xx status.
const UNAVAILABLE_NAMES = new Set(['ServiceUnavailable', 'ServiceUnavailableException', 'InternalServerError', 'InternalFailure', 'DependencyTimeoutException', 'KMSInternalException', 'KeyUnavailableException', 'TransactionInProgressException']);

type ErrorLike = { name?: unknown; code?: unknown; $fault?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: unknown; attempts?: unknown }; cause?: unknown };

function looksTransient(error: ErrorLike): boolean {
  const status = error.$metadata?.httpStatusCode;
  // The SDK's retry layer stamps `$metadata` on every failure; one without an HTTP status never got an
  // answer from the service (refused, reset, timed out), whatever shape the socket error took.
  const noResponse = error.$metadata !== undefined && typeof error.$metadata.attempts === 'number' && status === undefined;
  return (
    noResponse ||
    (typeof error.name === 'string' && (TIMEOUT_NAMES.has(error.name) || THROTTLING_NAMES.has(error.name) || UNAVAILABLE_NAMES.has(error.name))) ||
    (typeof error.code === 'string' && NETWORK_CODES.has(error.code)) ||
    (typeof status === 'number' && (status === 429 || status >= 500)) ||
    error.$fault === 'server' ||
    Boolean(error.$retryable)
  );
}

/** Whether `error` means a dependency could not answer (rather than a bug or a refusal). */
export function isDependencyOutage(error: unknown, depth = 0): boolean {
  if (error instanceof DependencyUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as ErrorLike;
  if (looksTransient(e)) return true;
  // Wrapped by a domain class or by the SDK: look through `cause` (bounded, cycles are possible).
  return depth < 5 && e.cause !== undefined && isDependencyOutage(e.cause, depth + 1);
}
