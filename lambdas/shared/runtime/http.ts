// HTTP plumbing shared by every API handler (DESIGN §4): JSON bodies capped at 16 KiB, errors as
// `{"error": "<code>", "message": "<text>"}` with a 4xx status (503 for a backend outage), never a stack
// trace.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from './zod';
import { isDependencyOutage, OUTAGE_CODE, outageCode } from './outage';

export const MAX_BODY_BYTES = 16 * 1024;

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body?: string };

/** A refusal a handler meant to give: becomes `{error, message}` with its status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
}

export function errorResult(statusCode: number, code: string, message: string, extra: Record<string, unknown> = {}): HttpResult {
  return json(statusCode, { error: code, message, ...extra });
}

/** The raw body as bytes, honouring API Gateway's base64 flag; 413 when over the limit. */
export function rawBody(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>): Buffer {
  const body = event.body ?? '';
  // Cheap pre-check before decoding: base64 grows by 4/3, UTF-16 length ≤ byte length.
  if (body.length > (event.isBase64Encoded ? Math.ceil((MAX_BODY_BYTES * 4) / 3) + 4 : MAX_BODY_BYTES)) {
    throw new HttpError(413, 'payload_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  const bytes = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    throw new HttpError(413, 'payload_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Parses and validates a JSON body; 413 oversize, 400 `invalid_json` / `invalid_request` naming the field.
 * `absentAs`: for a route whose body is optional, what an absent (or empty) body stands for.
 */
export function parseJsonBody<S extends z.core.$ZodType>(
  event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>,
  schema: S,
  options: { absentAs?: unknown } = {},
): z.output<S> {
  const bytes = rawBody(event);
  let value: unknown;
  if (bytes.length === 0 && options.absentAs !== undefined) value = options.absentAs;
  else {
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new HttpError(400, 'invalid_json', 'request body is not valid JSON');
    }
  }
  const result = z.safeParse(schema, value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : 'body';
    throw new HttpError(400, 'invalid_request', `${where}: ${issue.message}`);
  }
  return result.data;
}

export interface HttpErrorOptions {
  /**
   * Status of the outage answer (`isDependencyOutage`): 503 on every route, 500 on the TokenReview route
   * (DESIGN §6: the apiserver retries a 500 and does not cache it).
   */
  readonly outageStatus?: 500 | 503;
}

/**
 * Wraps a handler so that every failure becomes a clean answer: `HttpError` keeps its status and code; a
 * dependency outage becomes 503 `backend_unavailable` (retryable, not the caller's fault); anything else
 * becomes 500 `internal_error`. Both of the latter go to `onUnexpected`, and no detail reaches the caller.
 */
export function withHttpErrors<E>(
  handler: (event: E) => Promise<HttpResult>,
  onUnexpected: (error: unknown) => void = () => undefined,
  options: HttpErrorOptions = {},
): (event: E) => Promise<HttpResult> {
  return async (event: E) => {
    try {
      return await handler(event);
    } catch (error) {
      if (error instanceof HttpError) return errorResult(error.statusCode, error.code, error.message, error.extra);
      onUnexpected(error);
      if (isDependencyOutage(error)) {
        return outageCode(error) === OUTAGE_CODE
          ? errorResult(options.outageStatus ?? 503, OUTAGE_CODE, 'a backend service of the platform cannot be reached; retry later')
          : errorResult(options.outageStatus ?? 503, outageCode(error), (error as Error).message);
      }
      return errorResult(500, 'internal_error', 'the request could not be processed');
    }
  };
}
