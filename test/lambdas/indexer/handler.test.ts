import { describe, expect, it } from '@jest/globals';
import { createHandler, handler, INDEXER_ENV } from '../../../lambdas/indexer/handler';
import { ConfigError, readEnv } from '../../../lambdas/shared/env';
import { IndexUnavailableError } from '../../../lambdas/shared/index-model';
import { generateHistory } from '../../support/event-history';
import { createHarness } from '../../support/indexer-harness';

const context = (ms = 60_000) => ({ getRemainingTimeInMillis: () => ms });
const VALID_ENV = {
  TABLE_NAME: 't', CLUSTER_ID: 'c', SUI_NETWORK: 'testnet', SUI_GRPC_URL: 'https://fullnode.testnet.sui.io:443',
  SUI_PACKAGE_ID: '0x' + 'a'.repeat(64), WORKER_GROUP_NAMES: 'k3s-daas-dev-workers-general',
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
    delete withoutGroups.WORKER_GROUP_NAMES;
    expect(() => readEnv(INDEXER_ENV, withoutGroups as NodeJS.ProcessEnv)).toThrow(ConfigError);
  });

  it('the deployed handler refuses to run without its configuration', async () => {
    await expect(handler({}, context())).rejects.toBeInstanceOf(ConfigError);
  });
});
