// Powertools singletons shared by every function (one logger and one metrics namespace per function).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { INDEX_STALE_METRIC } from '../index/freshness';
import { isDependencyOutage } from './outage';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'k3s-daas' });
export const metrics = new Metrics({ namespace: 'K3sDaas', serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'k3s-daas' });

/** For `withHttpErrors`: record the failure (an outage or a bug) without sending any of it to the caller. */
export function logUnexpected(error: unknown): void {
  logger.error(isDependencyOutage(error) ? 'backend unavailable' : 'unexpected failure', error instanceof Error ? error : String(error));
}

/** For the index freshness policy: count a refusal on a stale index at once (no flush needed). */
export function countIndexStale(error: { ageMs?: number }): void {
  logger.error('refused: the index is stale', { ageMs: error.ageMs ?? null });
  metrics.singleMetric().addMetric(INDEX_STALE_METRIC, MetricUnit.Count, 1);
}
