import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { z } from 'zod';
import { HttpError, MAX_BODY_BYTES, parseJsonBody, withHttpErrors } from '../../../../lambdas/shared/runtime/http';
import { DependencyUnavailableError } from '../../../../lambdas/shared/runtime/outage';

const Body = z.object({ credential: z.string().min(1) }).strict();
const event = (body: string | undefined, isBase64Encoded = false) => ({ body, isBase64Encoded });

function refusal(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('JSON bodies', () => {
  it('parses a valid body, plain or base64', () => {
    expect(parseJsonBody(event('{"credential":"x"}'), Body)).toEqual({ credential: 'x' });
    expect(parseJsonBody(event(Buffer.from('{"credential":"y"}').toString('base64'), true), Body)).toEqual({ credential: 'y' });
  });

  it('rejects bodies over 16 KiB with 413 payload_too_large, also when base64 encoded', () => {
    const big = JSON.stringify({ credential: 'x'.repeat(MAX_BODY_BYTES) });
    expect(refusal(() => parseJsonBody(event(big), Body))).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
    expect(refusal(() => parseJsonBody(event(Buffer.from(big).toString('base64'), true), Body))).toMatchObject({ statusCode: 413 });
    // multi-byte characters count as bytes, not UTF-16 units
    const wide = JSON.stringify({ credential: '€'.repeat(MAX_BODY_BYTES / 3 + 10) });
    expect(refusal(() => parseJsonBody(event(wide), Body))).toMatchObject({ statusCode: 413 });
  });

  it('rejects invalid JSON with 400 invalid_json and a schema mismatch with 400 invalid_request naming the field', () => {
    expect(refusal(() => parseJsonBody(event('{'), Body))).toMatchObject({ statusCode: 400, code: 'invalid_json' });
    expect(refusal(() => parseJsonBody(event(undefined), Body))).toMatchObject({ statusCode: 400, code: 'invalid_json' });
    const e = refusal(() => parseJsonBody(event('{"credential": 5}'), Body));
    expect(e).toMatchObject({ statusCode: 400, code: 'invalid_request' });
    expect(e.message).toMatch(/^credential: /);
  });

  it('never throws anything but HttpError for arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), fc.boolean(), (body, b64) => {
        try {
          parseJsonBody(event(body, b64), Body);
        } catch (error) {
          expect(error).toBeInstanceOf(HttpError);
          expect((error as HttpError).statusCode).toBeGreaterThanOrEqual(400);
          expect((error as HttpError).statusCode).toBeLessThan(500);
        }
      }),
    );
  });
});

describe('withHttpErrors', () => {
  it('turns HttpError into {error, message} with its status', async () => {
    const h = withHttpErrors(async () => {
      throw new HttpError(403, 'not_admitted', 'no', { reason: 'x' });
    });
    const r = await h({});
    expect(r.statusCode).toBe(403);
    expect(JSON.parse(r.body!)).toEqual({ error: 'not_admitted', message: 'no', reason: 'x' });
  });

  it('turns anything else into 500 internal_error without leaking the message or stack', async () => {
    const seen: unknown[] = [];
    const h = withHttpErrors(async () => {
      throw new Error('secret detail at /var/task/index.mjs:1');
    }, (e) => seen.push(e));
    const r = await h({});
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toMatch(/secret|index\.mjs|at /);
    expect(JSON.parse(r.body!)).toEqual({ error: 'internal_error', message: 'the request could not be processed' });
    expect(seen).toHaveLength(1);
  });
});

describe('withHttpErrors: outages', () => {
  const sdkTimeout = Object.assign(new Error('socket hang'), { name: 'TimeoutError', $metadata: { attempts: 2 } });
  it.each([
    ['a domain outage', new DependencyUnavailableError('index down')],
    ['an SDK timeout after its retries', sdkTimeout],
    ['a throttled call', Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400, attempts: 2 } })],
    ['a 5xx', Object.assign(new Error('oops'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500, attempts: 2 } })],
    ['a wrapped outage', new Error('wrapped', { cause: sdkTimeout })],
  ])('%s → 503 backend_unavailable, logged, no detail', async (_name, error) => {
    const seen: unknown[] = [];
    const r = await withHttpErrors(async () => {
      throw error;
    }, (e) => seen.push(e))({});
    expect(r.statusCode).toBe(503);
    expect(JSON.parse(r.body!)).toEqual({ error: 'backend_unavailable', message: 'a backend service of the platform cannot be reached; retry later' });
    expect(seen).toEqual([error]);
  });

  it('the TokenReview route asks for 500 instead', async () => {
    const r = await withHttpErrors(async () => {
      throw new DependencyUnavailableError('down');
    }, undefined, { outageStatus: 500 })({});
    expect([r.statusCode, JSON.parse(r.body!).error]).toEqual([500, 'backend_unavailable']);
  });

  it('a refusal by the service (access denied, unknown key) is no outage: 500 internal_error', async () => {
    const denied = Object.assign(new Error('denied'), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } });
    const r = await withHttpErrors(async () => {
      throw denied;
    })({});
    expect([r.statusCode, JSON.parse(r.body!).error]).toEqual([500, 'internal_error']);
  });
});

describe('parseJsonBody: optional bodies', () => {
  it('an absent or empty body stands for `absentAs`; a present one is parsed as usual', () => {
    const Empty = z.object({}).strict();
    expect(parseJsonBody(event(undefined), Empty, { absentAs: {} })).toEqual({});
    expect(parseJsonBody(event(''), Empty, { absentAs: {} })).toEqual({});
    expect(refusal(() => parseJsonBody(event('{"x":1}'), Empty, { absentAs: {} })).code).toBe('invalid_request');
    // Without the option an absent body is still invalid JSON.
    expect(refusal(() => parseJsonBody(event(undefined), Empty)).code).toBe('invalid_json');
  });
});
