// Request/connection timeouts and bounded retries for every AWS SDK client of a function. The SDK's
// defaults wait on a hanging connection forever (no request timeout) and retry with backoff, so one
// stuck dependency would hold a route until Lambda kills it, with no answer at all. Here each call has a
// worst case that fits the function's timeout with room left to answer the contract's 503 (500 for the
// TokenReview), and the CDK functions take their timeouts from the same table.
import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from 'node:crypto';

/** Timeout of each function, in seconds; `lib/api/*` configures the functions with exactly these. */
export const FUNCTION_TIMEOUT_SECONDS = {
  healthz: 10,
  authenticate: 10,
  'tokens-validate': 10,
  kubeconfig: 10,
  issuer: 10,
  attestation: 15,
  'node-join': 15,
  'node-lifecycle': 30,
  'node-external-join': 15,
  'node-external-leave': 10,
  'node-roster': 15,
} as const;

export type ApiFunctionName = keyof typeof FUNCTION_TIMEOUT_SECONDS;

/**
 * The indexer's timeout follows its schedule (`lib/api/indexer.ts`: interval − 5 s, at most 295 s); the
 * shortest schedule (1 min) gives this. Its client budget is sized for this worst case.
 */
export const INDEXER_MIN_TIMEOUT_SECONDS = 55;

/**
 * How many dependency calls may each run into their full timeout one after another on a function's worst
 * path. Most handlers answer on the first failed call (one); node-lifecycle carries on after a failed
 * mark (ABANDON) and a failed claim, then completes the action: three.
 */
const CALLS_IN_SERIES: Record<ApiFunctionName, number> = {
  healthz: 1,
  authenticate: 1,
  'tokens-validate': 1,
  kubeconfig: 1,
  issuer: 1,
  attestation: 1,
  'node-join': 1,
  'node-lifecycle': 3,
  'node-external-join': 1,
  'node-external-leave': 1,
  // Freshness and minimum, the node scan, then the stakes, tokens and stakes' nodes (in parallel).
  'node-roster': 3,
};

/**
 * An indexer run stops starting work (pages, evictions, the lag reading) this long before its deadline
 * (`RunOptions.safetyMarginMs` default). Each AWS call gets a third of it, so the work started at the
 * margin (an eviction's describe and terminate, then the cursor write) still ends in time.
 */
export const INDEXER_SAFETY_MARGIN_MS = 15_000;

/** Share of the function's time the timed-out calls may use; the rest is for the answer and cold start. */
const DEPENDENCY_SHARE = 0.5;
const MAX_ATTEMPTS = 2;
const MAX_REQUEST_TIMEOUT_MS = 5_000;
const MIN_REQUEST_TIMEOUT_MS = 500;
const MAX_CONNECTION_TIMEOUT_MS = 1_000;
/** The standard retry strategy's backoff before retry i is at most 2^i × 500 ms (throttling base). */
const THROTTLING_DELAY_BASE_MS = 500;

export interface CallBudget {
  readonly maxAttempts: number;
  /** Per attempt, from sending to the last response byte (connecting included). */
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
}

function maxBackoffMs(attempts: number): number {
  let total = 0;
  for (let retry = 1; retry < attempts; retry++) total += 2 ** retry * THROTTLING_DELAY_BASE_MS;
  return total;
}

/** The longest one SDK call with `budget` can take before it fails (every attempt times out, full backoff). */
export function worstCaseCallMs(budget: CallBudget): number {
  return budget.maxAttempts * budget.requestTimeoutMs + maxBackoffMs(budget.maxAttempts);
}

export function callBudget(functionName: ApiFunctionName | 'indexer'): CallBudget {
  const perCallMs = functionName === 'indexer'
    ? INDEXER_SAFETY_MARGIN_MS / 3
    : (FUNCTION_TIMEOUT_SECONDS[functionName] * 1000 * DEPENDENCY_SHARE) / CALLS_IN_SERIES[functionName];
  const requestTimeoutMs = Math.min(MAX_REQUEST_TIMEOUT_MS, Math.floor((perCallMs - maxBackoffMs(MAX_ATTEMPTS)) / MAX_ATTEMPTS));
  if (requestTimeoutMs < MIN_REQUEST_TIMEOUT_MS) {
    throw new Error(`the ${functionName} function's timeout leaves under ${MIN_REQUEST_TIMEOUT_MS} ms per AWS request`);
  }
  return { maxAttempts: MAX_ATTEMPTS, requestTimeoutMs, connectionTimeoutMs: Math.min(MAX_CONNECTION_TIMEOUT_MS, requestTimeoutMs) };
}

// The SDK signs every request (SigV4) with two HMACs: one keyed by the secret access key (a string, the
// signing-key cache's lookup) and one keyed by the day's signing key (bytes it keeps). Node 24 tests an
// object key for being a key object by throwing inside (a stack trace, ~10 µs, 5× the HMAC itself), a
// string key not at all. So strings go in as they are, and bytes become a key object once per signing key
// (kept by the key's identity, so it goes when the SDK drops the key).
const hmacKeys = new WeakMap<object, KeyObject>();

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

function hmacKey(secret: SourceData): KeyObject | string {
  if (typeof secret === 'string') return secret;
  let key = hmacKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(bytesOf(secret)));
    hmacKeys.set(secret, key);
  }
  return key;
}

/**
 * SHA-256 and HMAC-SHA-256 of node:crypto for the SDK's `sha256` setting: what the SDK's own Node hash
 * class does (the same bytes, tests compare signatures), with HMAC keys made into key objects once.
 */
export class KeyedSha256 {
  readonly digestLength = 32;
  private hash: Hash | Hmac;
  private finished = false;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.create();
  }

  update(data: SourceData): void {
    if (this.finished) throw new Error('Attempted to update an already finished hash.');
    this.hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    let out: Buffer;
    if (this.secret !== undefined) {
      this.finished = true;
      out = this.hash.digest();
    } else {
      out = (this.hash as Hash).copy().digest();
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  reset(): void {
    this.hash = this.create();
    this.finished = false;
  }

  private create(): Hash | Hmac {
    return this.secret !== undefined ? createHmac('sha256', hmacKey(this.secret)) : createHash('sha256');
  }
}

// The SDK's default logger drops everything, yet its logger middleware still copies every command's input
// and output through the schema's sensitive-data filter for `logger.info` on each request (~8 % of a
// GetItem's CPU). It calls `logger?.info?.(…)`: a logger without `info` skips that copy and, like the
// default, logs nothing.
const SILENT_LOGGER = { debug: () => {}, warn: () => {}, error: () => {} } as unknown as { info: (...content: unknown[]) => void; debug: () => void; warn: () => void; error: () => void };

export interface AwsClientOptions {
  /**
   * Resolve each command's middleware once per client and command class (the SDK's `cacheMiddleware`),
   * not on every send. Only for clients whose commands add no middleware of their own: lib-dynamodb's
   * document client refuses such a client, and middleware added to the client after its first send of a
   * command is not seen by that command (lambdas/shared/index/request-counter.ts refuses it).
   */
  readonly reuseCommandHandlers?: boolean;
}

/**
 * Client settings to spread into any AWS SDK v3 client constructor (`new KMSClient(awsClientConfig('issuer'))`).
 * `throwOnRequestTimeout` makes the request timeout an error rather than a logged warning. The endpoint,
 * region and credentials still come from the environment (`AWS_ENDPOINT_URL` in tests).
 */
export function awsClientConfig(functionName: ApiFunctionName | 'indexer', options: AwsClientOptions = {}) {
  const budget = callBudget(functionName);
  return {
    maxAttempts: budget.maxAttempts,
    sha256: KeyedSha256,
    logger: SILENT_LOGGER,
    ...(options.reuseCommandHandlers ? { cacheMiddleware: true } : {}),
    requestHandler: { requestTimeout: budget.requestTimeoutMs, connectionTimeout: budget.connectionTimeoutMs, throwOnRequestTimeout: true },
  };
}
