import { describe, expect, it } from '@jest/globals';
import { handler } from '../../../lambdas/healthz/handler';

describe('GET /healthz', () => {
  it('answers 200 {"ok": true} as JSON, never cached', async () => {
    const result = await handler();
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body!)).toEqual({ ok: true });
    expect(result.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  });
});
