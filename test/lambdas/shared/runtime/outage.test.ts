// The one outage rule: what a dependency failing looks like after the SDK's retries, as opposed to a bug
// or a refusal. Domain errors of every backend extend DependencyUnavailableError.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { WebhookSecretUnavailableError } from '../../../../lambdas/shared/runtime/webhook-secret';
import { SignatureVerifierUnavailableError } from '../../../../lambdas/shared/credentials/credential';
import { IndexUnavailableError } from '../../../../lambdas/shared/index/index-model';
import { isDependencyOutage } from '../../../../lambdas/shared/runtime/outage';

const sdk = (name: string, over: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...over });

describe('isDependencyOutage', () => {
  it('recognises every backend\'s domain error', () => {
    for (const e of [new IndexUnavailableError('x'), new SignatureVerifierUnavailableError('x'), new WebhookSecretUnavailableError('x')]) expect(isDependencyOutage(e)).toBe(true);
  });

  it.each([
    ['TimeoutError', sdk('TimeoutError', { code: 'ETIMEDOUT', $metadata: { attempts: 2 } })],
    ['connection refused', sdk('Error', { code: 'ECONNREFUSED', $metadata: { attempts: 2 } })],
    ['no HTTP answer at all (socket error in another shape)', sdk('Error', { $metadata: { attempts: 2, totalRetryDelay: 10 } })],
    ['throttling', sdk('ThrottlingException', { $metadata: { httpStatusCode: 400, attempts: 2 } })],
    ['EC2 RequestLimitExceeded', sdk('RequestLimitExceeded', { $metadata: { httpStatusCode: 503, attempts: 2 } })],
    ['5xx', sdk('InternalServerError', { $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 2 } })],
    ['KMS KeyUnavailableException', sdk('KeyUnavailableException', { $metadata: { httpStatusCode: 500, attempts: 2 } })],
  ])('%s is an outage', (_name, error) => {
    expect(isDependencyOutage(error)).toBe(true);
  });

  it.each([
    ['access denied', sdk('AccessDeniedException', { $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } })],
    ['unknown key', sdk('NotFoundException', { $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } })],
    ['a plain bug', new TypeError('x is undefined')],
    ['a thrown string', 'nope'],
    ['null', null],
  ])('%s is not', (_name, error) => {
    expect(isDependencyOutage(error)).toBe(false);
  });

  it('looks through causes, but not forever (cycles)', () => {
    expect(isDependencyOutage(new Error('outer', { cause: new Error('mid', { cause: new IndexUnavailableError('x') }) }))).toBe(true);
    const a: { cause?: unknown } = new Error('a');
    a.cause = a;
    expect(isDependencyOutage(a)).toBe(false);
  });

  it('never throws on arbitrary values', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      expect(typeof isDependencyOutage(v)).toBe('boolean');
    }));
  });
});
