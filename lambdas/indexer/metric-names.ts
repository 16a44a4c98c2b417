// Names of the indexer's CloudWatch metrics, shared by the function and the CDK alarm on them.
export const INDEXER_METRICS = {
  namespace: 'K3sDaas',
  /** Powertools adds `service` as the default dimension; DomainFunction sets it to the handler folder. */
  service: 'indexer',
  eventsApplied: 'IndexerEventsApplied',
  eventsSkipped: 'IndexerEventsSkipped',
  pages: 'IndexerPages',
  errors: 'IndexerErrors',
  evictions: 'IndexerInstancesTerminated',
  lagCheckpoints: 'IndexerLagCheckpoints',
  lagSeconds: 'IndexerLagSeconds',
} as const;
