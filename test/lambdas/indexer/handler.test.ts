import { describe, expect, it } from '@jest/globals';
import { createHandler, handler, INDEXER_ENV } from '../../../lambdas/indexer/handler';
import { ConfigError, readEnv } from '../../../lambdas/shared/runtime/env';
import { IndexUnavailableError } from '../../../lambdas/shared/index/index-model';
import { INDEXER_METRICS } from '../../../lambdas/indexer/metric-names';
import { InstanceApiError } from '../../../lambdas/indexer/eviction';
import { metrics } from '../../../lambdas/shared/runtime/powertools';
import { generateHistory } from '../../support/event-history';
import { createHarness } from '../../support/indexer-harness';
import { describeWithMoto } from '../../support/moto';

const context = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms });
const VALID_ENV = {
  TABLE_NAME: 't', CLUSTER_ID: 'c', SUI_NETWORK: 'testnet', SUI_GRPC_URL: 'https://fullnode.testnet.sui.io:443',
  SUI_PACKAGE_ID: '0x' + 'a'.repeat(64), WORKER_GROUPS: JSON.stringify([{ autoScalingGroup: 'k3s-daas-dev-workers-general', stakeId: '0x' + 'c'.repeat(64) }]),
};

describe('indexer handler', () => {
  it('runs one pass with the injected dependencies and reports it', async () => {
    const history = generateHistory({ seed: 3, transactions: 60 });
    const h = await createHarness(history);
    const deps = h.deps();
    const run = createHandler(async () => deps);
    const report = await run({}, context());
    expect(report.stoppedBecause).toBe('caught_up');
    expect(report.applied).toBeGreaterThan(0);
    expect((await h.repo.getCursor())?.checkpoint).toBe(history.headCheckpoint);
  });

  it('publishes events applied, pages, errors, evictions and lag in checkpoints and seconds', async () => {
    const history = generateHistory({ seed: 3, transactions: 60 });
    const h = await createHarness(history);
    const recorded = new Map<string, number>();
    const original = metrics.addMetric.bind(metrics);
    metrics.addMetric = ((name: string, _unit: unknown, value: number) => {
      recorded.set(name, value);
    }) as typeof metrics.addMetric;
    try {
      const report = await createHandler(async () => h.deps())({}, context());
      expect(Object.fromEntries(recorded)).toEqual({
        [INDEXER_METRICS.eventsApplied]: report.applied,
        [INDEXER_METRICS.eventsSkipped]: report.skipped,
        [INDEXER_METRICS.eventsUndecodable]: report.undecodable,
        [INDEXER_METRICS.pages]: report.pages,
        [INDEXER_METRICS.errors]: 0,
        [INDEXER_METRICS.evictions]: report.terminated,
        [INDEXER_METRICS.evictionFailures]: 0,
        [INDEXER_METRICS.lagCheckpoints]: 0,
        [INDEXER_METRICS.lagSeconds]: 0,
      });
      expect(report.applied).toBeGreaterThan(0);
    } finally {
      metrics.addMetric = original;
    }
  });

  it('counts failed evictions in the errors metric (the run itself succeeds and the index moves on)', async () => {
    const history = generateHistory({ seed: 42, transactions: 400 });
    expect(history.expectedTerminations.length).toBeGreaterThan(0);
    const h = await createHarness(history);
    h.ec2.terminate = async () => {
      throw new InstanceApiError('TerminateInstances failed (Throttling: rate exceeded)');
    };
    const recorded = new Map<string, number>();
    const original = metrics.addMetric.bind(metrics);
    metrics.addMetric = ((name: string, _unit: unknown, value: number) => {
      recorded.set(name, value);
    }) as typeof metrics.addMetric;
    try {
      const report = await createHandler(async () => h.deps())({}, context());
      expect(report.evictionErrors).toBeGreaterThan(0);
      expect(recorded.get(INDEXER_METRICS.errors)).toBe(report.evictionErrors + report.providerErrors);
      expect(recorded.get(INDEXER_METRICS.evictionFailures)).toBe(report.evictionErrors);
    } finally {
      metrics.addMetric = original;
    }
  });

  it('stops starting pages when the Lambda deadline is near', async () => {
    const h = await createHarness(generateHistory({ seed: 3, transactions: 60 }));
    const deps = h.deps();
    const report = await createHandler(async () => deps)({}, context(5_000));
    expect(report).toMatchObject({ stoppedBecause: 'deadline', pages: 0 });
    expect(await h.repo.getCursor()).toBeUndefined();
  });

  it('fails the invocation when the index is unreachable (the cursor stays put)', async () => {
    const h = await createHarness(generateHistory({ seed: 3, transactions: 20 }));
    const deps = h.deps();
    deps.repo.getCursor = async () => {
      throw new IndexUnavailableError('down');
    };
    await expect(createHandler(async () => deps)({}, context())).rejects.toBeInstanceOf(IndexUnavailableError);
  });

  it('builds its clients again after a failed cold start', async () => {
    let attempts = 0;
    const h = await createHarness(generateHistory({ seed: 3, transactions: 5 }));
    const deps = h.deps();
    const run = createHandler(async () => {
      if (++attempts === 1) throw new Error('secret not readable yet');
      return deps;
    });
    await expect(run({}, context())).rejects.toThrow('secret not readable yet');
    await expect(run({}, context())).resolves.toMatchObject({ stoppedBecause: 'caught_up' });
  });

  it('validates its settings and names each bad variable', () => {
    expect(readEnv(INDEXER_ENV, VALID_ENV as NodeJS.ProcessEnv)).toMatchObject({ INDEXER_PAGE_LIMIT: 50 });
    expect(() => readEnv(INDEXER_ENV, { ...VALID_ENV, SUI_PACKAGE_ID: '0xABC', SUI_GRPC_URL: 'ftp://x' } as NodeJS.ProcessEnv)).toThrow(
      /SUI_GRPC_URL.*SUI_PACKAGE_ID|SUI_PACKAGE_ID.*SUI_GRPC_URL/,
    );
    const withoutGroups: Record<string, string> = { ...VALID_ENV };
    delete withoutGroups.WORKER_GROUPS;
    expect(() => readEnv(INDEXER_ENV, withoutGroups as NodeJS.ProcessEnv)).toThrow(ConfigError);
  });

  it('the deployed handler refuses to run without its configuration', async () => {
    await expect(handler({}, context())).rejects.toBeInstanceOf(ConfigError);
  });
});

describeWithMoto('indexer handler with its real clients', () => {
  it('reads the provider auth header from Secrets Manager, sends it, and backs off on HTTP 429 without moving the cursor', async () => {
    const { startMoto } = await import('../../support/moto');
    const { createIndexTable, emulatorClient } = await import('../../support/index-table');
    const { CreateSecretCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const http = await import('node:http');
    const { DynamoIndexRepository } = await import('../../../lambdas/shared/index/index-repository-dynamodb');
    const moto = await startMoto();
    const seen: { url?: string; key?: string | string[] }[] = [];
    const provider = http.createServer((req, res) => {
      seen.push({ url: req.url, key: req.headers['x-api-key'] });
      req.resume();
      res.writeHead(429, 'Too Many Requests').end();
    });
    await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
    const saved = { ...process.env };
    try {
      await createIndexTable(emulatorClient(moto.endpoint), 'idx');
      await new SecretsManagerClient({ endpoint: moto.endpoint }).send(new CreateSecretCommand({ Name: 'sui-key', SecretString: 's3cret' }));
      Object.assign(process.env, VALID_ENV, {
        TABLE_NAME: 'idx', AWS_ENDPOINT_URL: moto.endpoint,
        SUI_GRPC_URL: `http://127.0.0.1:${(provider.address() as { port: number }).port}`,
        SUI_GRPC_AUTH_HEADER: 'x-api-key', SUI_GRPC_AUTH_SECRET_ID: 'sui-key',
      });
      const report = await handler({}, context());
      expect(report.stoppedBecause).toBe('provider_error');
      // The run reads the chain tip before its first page (to check watermarks against it): three tries,
      // all refused; then the lag reading asks once more.
      const providerCalls = seen.filter((s) => s.url?.startsWith('/sui.rpc.v2.LedgerService/'));
      expect(providerCalls.map((s) => s.url)).toEqual(Array(4).fill('/sui.rpc.v2.LedgerService/GetServiceInfo'));
      expect(seen.every((s) => s.key === 's3cret')).toBe(true);
      const repo = new DynamoIndexRepository({ tableName: 'idx', client: emulatorClient(moto.endpoint) });
      expect(await repo.getCursor()).toBeUndefined();
    } finally {
      process.env = saved;
      provider.close();
      await moto.stop();
    }
  });
});
