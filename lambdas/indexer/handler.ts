// The indexer Lambda (DESIGN §2 step 2): run by an EventBridge schedule with reserved concurrency 1.
// Thin: read settings, build the clients once, run one indexer pass, publish metrics. Any failure other
// than a provider hiccup (which just ends the run early) is rethrown so the invocation counts as failed;
// the cursor never moved past unfinished work, so the next scheduled run resumes cleanly.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { COMMON_ENV, readEnv } from '../shared/runtime/env';
import { DynamoIndexRepository } from '../shared/index/index-repository-dynamodb';
import { logger, metrics } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { GrpcEventSource } from './event-source';
import { ledgerReader } from './ledger-client';
import { Evictor, InstanceApiError, type InstanceTerminator } from './eviction';
import { lazyLoad } from '../shared/runtime/lazy';
import { runIndexer, type IndexerDeps, type RunOptions, type RunReport } from './indexer';
import { INDEXER_METRICS } from './metric-names';
import { WORKER_GROUPS_ENV } from '../shared/nodes/node-registry';
import { suiIdSchema } from '../shared/sui/ids';


export const INDEXER_ENV = {
  ...COMMON_ENV,
  SUI_NETWORK: z.enum(['mainnet', 'testnet', 'devnet', 'localnet']),
  SUI_GRPC_URL: z.url({ protocol: /^https?$/ }),
  SUI_PACKAGE_ID: suiIdSchema(),
  /** This cluster's worker groups (the same setting node-join reads): the only instances eviction may touch. */
  WORKER_GROUPS: WORKER_GROUPS_ENV,
  /** Optional provider authentication: a header name and the Secrets Manager secret holding its value. */
  SUI_GRPC_AUTH_HEADER: z.optional(z.string().check(z.regex(/^[a-z0-9-]+$/, 'must be a lowercase header name'))),
  SUI_GRPC_AUTH_SECRET_ID: z.optional(z.string().check(z.minLength(1))),
  INDEXER_PAGE_LIMIT: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000)), 50),
};

type Deps = Omit<IndexerDeps, 'log'> & { pageLimit?: number };

const LOG: IndexerDeps['log'] = {
  info: (message, extra) => logger.info(message, extra ?? {}),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  error: (message, extra) => logger.error(message, extra ?? {}),
};

export function createHandler(buildDeps: () => Promise<Deps>, runOptions: Partial<RunOptions> = {}) {
  let deps: Promise<Deps> | undefined;
  return async (_event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<RunReport> => {
    deps ??= buildDeps().catch((error: unknown) => {
      deps = undefined;
      throw error;
    });
    try {
      const { pageLimit, ...built } = await deps;
      const report = await runIndexer({ ...built, log: LOG }, { remainingMs: () => context.getRemainingTimeInMillis(), pageLimit, ...runOptions });
      recordMetrics(report);
      logger.info('indexer run finished', {
        ...report, cursor: report.cursor && { checkpoint: report.cursor.checkpoint.toString(), eventsSeen: report.cursor.eventsSeen },
      });
      return report;
    } catch (error) {
      metrics.addMetric(INDEXER_METRICS.errors, MetricUnit.Count, 1);
      logger.error('indexer run failed', error instanceof Error ? error : String(error));
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

function recordMetrics(report: RunReport): void {
  metrics.addMetric(INDEXER_METRICS.eventsApplied, MetricUnit.Count, report.applied);
  metrics.addMetric(INDEXER_METRICS.eventsSkipped, MetricUnit.Count, report.skipped);
  metrics.addMetric(INDEXER_METRICS.eventsUndecodable, MetricUnit.Count, report.undecodable);
  metrics.addMetric(INDEXER_METRICS.pages, MetricUnit.Count, report.pages);
  metrics.addMetric(INDEXER_METRICS.errors, MetricUnit.Count, report.providerErrors + report.evictionErrors);
  metrics.addMetric(INDEXER_METRICS.evictions, MetricUnit.Count, report.terminated);
  metrics.addMetric(INDEXER_METRICS.evictionFailures, MetricUnit.Count, report.evictionErrors);
  if (report.lagCheckpoints !== undefined) metrics.addMetric(INDEXER_METRICS.lagCheckpoints, MetricUnit.Count, report.lagCheckpoints);
  if (report.lagSeconds !== undefined) metrics.addMetric(INDEXER_METRICS.lagSeconds, MetricUnit.Seconds, report.lagSeconds);
}

async function buildRealDeps(): Promise<Deps> {
  const env = readEnv(INDEXER_ENV);
  if (Boolean(env.SUI_GRPC_AUTH_HEADER) !== Boolean(env.SUI_GRPC_AUTH_SECRET_ID)) {
    throw new Error('invalid function configuration: SUI_GRPC_AUTH_HEADER and SUI_GRPC_AUTH_SECRET_ID must be set together');
  }
  const meta: Record<string, string> = {};
  if (env.SUI_GRPC_AUTH_HEADER && env.SUI_GRPC_AUTH_SECRET_ID) {
    // Only deployments that authenticate to their provider read a secret: its client loads only for them.
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const secret = await new SecretsManagerClient(awsClientConfig('indexer')).send(new GetSecretValueCommand({ SecretId: env.SUI_GRPC_AUTH_SECRET_ID }));
    if (!secret.SecretString) throw new Error('the gRPC auth secret has no string value');
    meta[env.SUI_GRPC_AUTH_HEADER] = secret.SecretString;
  }
  const client = ledgerReader({ baseUrl: env.SUI_GRPC_URL, meta });
  const repo = new DynamoIndexRepository({ tableName: env.TABLE_NAME, client: new DynamoDBClient(awsClientConfig('indexer')) });
  const groups = new Set(env.WORKER_GROUPS.map((g) => g.autoScalingGroup));
  return {
    repo,
    source: new GrpcEventSource(client, env.SUI_PACKAGE_ID),
    evictor: new Evictor(repo, lazyInstanceTerminator(), groups),
    packageId: env.SUI_PACKAGE_ID,
    pageLimit: env.INDEXER_PAGE_LIMIT,
  };
}

/**
 * The Auto Scaling client loads on the first eviction only: most runs evict nothing. A failed load is an
 * Auto Scaling failure like any other (the stake is retried next run).
 */
export function lazyInstanceTerminator(
  load: () => Promise<InstanceTerminator> = () =>
    import('./auto-scaling-terminator').then((m) => new m.AutoScalingInstanceTerminator(m.evictionAutoScalingClient())),
): InstanceTerminator {
  const terminator = lazyLoad(async (): Promise<InstanceTerminator> => {
    try {
      return await load();
    } catch (error) {
      throw new InstanceApiError('the Auto Scaling client could not be loaded', { cause: error });
    }
  });
  return {
    describeStates: async (instanceIds) => (await terminator()).describeStates(instanceIds),
    terminate: async (instanceIds) => (await terminator()).terminate(instanceIds),
  };
}

export const handler = createHandler(buildRealDeps);
