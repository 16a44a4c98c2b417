// The bearer secret kube-apiserver (and the enclave's node reconciler) present to the platform (DESIGN §6): read from Secrets
// Manager, kept for a few minutes per container, compared in constant time.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash, timingSafeEqual } from 'node:crypto';
import { errorResult, type HttpResult } from './http';
import { DependencyUnavailableError } from './outage';
import { logger } from './powertools';

/** Re-read the secret this often so a redeployed secret is picked up without a cold start. */
export const SECRET_TTL_MS = 5 * 60_000;

export class WebhookSecretUnavailableError extends DependencyUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookSecretUnavailableError';
  }
}

/** Caches `load()` for `ttlMs`; concurrent callers share one request, a failure is not cached. */
export function cachedSecret(load: () => Promise<string>, opts: { ttlMs?: number; now?: () => number } = {}): () => Promise<string> {
  const ttl = opts.ttlMs ?? SECRET_TTL_MS;
  const now = opts.now ?? Date.now;
  let entry: { value: Promise<string>; at: number } | undefined;
  return () => {
    if (!entry || now() - entry.at >= ttl) {
      const value = load();
      const current = { value, at: now() };
      entry = current;
      value.catch(() => {
        if (entry === current) entry = undefined;
      });
    }
    return entry.value;
  };
}

export function secretsManagerLoader(secretArn: string, client = new SecretsManagerClient({})): () => Promise<string> {
  return async () => {
    let secret: string | undefined;
    try {
      secret = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
    } catch (error) {
      throw new WebhookSecretUnavailableError('the webhook secret cannot be read', { cause: error });
    }
    // An empty secret would let an empty bearer through: refuse to serve instead.
    if (!secret) throw new WebhookSecretUnavailableError('the webhook secret is empty');
    return secret;
  };
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether an `Authorization` header carries `Bearer <secret>`. Both sides are hashed first so the
 * comparison takes the same time whatever the presented length.
 */
export function bearerMatches(authorization: string | undefined, secret: string): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  const presented = match ? match[1] : '';
  const equal = timingSafeEqual(digest(presented), digest(secret));
  return match !== null && secret.length > 0 && equal;
}

/**
 * The webhook-secret gate of the routes the control plane calls (POST /v1/authenticate, GET
 * /v1/nodes/roster): undefined when the request carries the secret, otherwise the answer to give — 401, or
 * `unavailable` when the secret itself cannot be read (TokenReview answers 500 so the apiserver retries
 * without caching; other routes the shared 503).
 */
export async function refuseWithoutWebhookSecret(
  authorization: string | undefined,
  secret: () => Promise<string>,
  unavailable: { status: number; code: string },
): Promise<HttpResult | undefined> {
  let value: string;
  try {
    value = await secret();
  } catch (error) {
    if (!(error instanceof WebhookSecretUnavailableError)) throw error;
    logger.error('webhook secret unavailable', error);
    return errorResult(unavailable.status, unavailable.code, 'the webhook secret cannot be read; retry later');
  }
  return bearerMatches(authorization, value) ? undefined : errorResult(401, 'unauthorized', 'missing or wrong webhook bearer secret');
}
