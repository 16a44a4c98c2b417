// The staleness bound every function that checks tokens or admits nodes enforces (issue 12 item 7):
// one setting in the typed config, one environment variable (validated at cold start by
// lambdas/shared/index/freshness.ts).
import type { EnvironmentConfig } from '../config/environment-config';

export function indexFreshnessEnvironment(config: EnvironmentConfig): { INDEX_MAX_AGE_SECONDS: string } {
  return { INDEX_MAX_AGE_SECONDS: String(config.indexer.maxIndexAgeSeconds) };
}
