// Names of the indexer's CloudWatch metrics, shared by the function and the CDK alarm on them.
export const INDEXER_METRICS = {
  namespace: 'K3sDaas',
  /** Powertools adds `service` as the default dimension; DomainFunction sets it to the handler folder. */
  service: 'indexer',
  eventsApplied: 'IndexerEventsApplied',
  eventsSkipped: 'IndexerEventsSkipped',
  /** Skipped events of a known type (payload did not decode or apply): alarmed, the index may lack a slash. */
  eventsUndecodable: 'IndexerEventsUndecodable',
  pages: 'IndexerPages',
  errors: 'IndexerErrors',
  evictions: 'IndexerInstancesTerminated',
  /** Evictions Auto Scaling refused or could not take; alarmed, since the index keeps moving without them. */
  evictionFailures: 'IndexerEvictionFailures',
  lagCheckpoints: 'IndexerLagCheckpoints',
  lagSeconds: 'IndexerLagSeconds',
} as const;
