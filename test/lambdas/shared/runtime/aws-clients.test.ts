// The client budget: every function's worst-case AWS call (all attempts timing out, full backoff) fits in
// half of its timeout, times the calls that may fail in series on its worst path; the CDK functions get
// exactly the timeouts the budget was sized for.
import { describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import { awsClientConfig, callBudget, FUNCTION_TIMEOUT_SECONDS, INDEXER_MIN_TIMEOUT_SECONDS, INDEXER_SAFETY_MARGIN_MS, worstCaseCallMs, type ApiFunctionName } from '../../../../lambdas/shared/runtime/aws-clients';
import { synthPlatform } from '../../../support/cdk-app';

describe('AWS client budget', () => {
  it('keeps one call of every API function within half of its timeout (node-lifecycle: three calls)', () => {
    for (const fn of Object.keys(FUNCTION_TIMEOUT_SECONDS) as ApiFunctionName[]) {
      const series = fn === 'node-lifecycle' ? 3 : 1;
      expect({ fn, fits: series * worstCaseCallMs(callBudget(fn)) <= FUNCTION_TIMEOUT_SECONDS[fn] * 500 }).toEqual({ fn, fits: true });
      expect(callBudget(fn).maxAttempts).toBeGreaterThanOrEqual(2);
    }
  });

  it('keeps an indexer call within a third of the run\'s safety margin, and the margin within the shortest timeout', () => {
    expect(3 * worstCaseCallMs(callBudget('indexer'))).toBeLessThanOrEqual(INDEXER_SAFETY_MARGIN_MS);
    expect(INDEXER_SAFETY_MARGIN_MS).toBeLessThan(INDEXER_MIN_TIMEOUT_SECONDS * 1000);
  });

  it('is what an SDK client is built with: timeouts that throw, bounded attempts', async () => {
    const client = new KMSClient({ ...awsClientConfig('issuer'), region: 'us-east-1' });
    expect(await client.config.maxAttempts()).toBe(callBudget('issuer').maxAttempts);
    const handlerConfig = await (client.config.requestHandler as unknown as { configProvider: Promise<Record<string, unknown>> }).configProvider;
    expect(handlerConfig).toMatchObject({ requestTimeout: callBudget('issuer').requestTimeoutMs, connectionTimeout: callBudget('issuer').connectionTimeoutMs, throwOnRequestTimeout: true });
  });

  it('the synthesized functions have exactly the timeouts of the table (the indexer at least the minimum)', () => {
    const template = synthPlatform({ env: 'dev' }).template('api');
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Timeout: number; Environment?: { Variables?: Record<string, string> } } }[];
    const byService = new Map(functions.map((f) => [f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME, f.Properties.Timeout]));
    for (const [fn, seconds] of Object.entries(FUNCTION_TIMEOUT_SECONDS)) expect({ fn, timeout: byService.get(fn) }).toEqual({ fn, timeout: seconds });
    expect(byService.get('indexer')).toBeGreaterThanOrEqual(INDEXER_MIN_TIMEOUT_SECONDS);
  });
});
