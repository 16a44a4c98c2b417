// Reads the package's events from a Sui full node over gRPC (JSON-RPC is switched off). The SDK's
// `listEvents` only accepts `package::module` filters, which would need one stream per module and lose
// the ledger order across modules (a token issued in `seal_token` right after its stake in `staking`).
// The gRPC `EventTypeFilter` also accepts a bare package address ("events whose type is defined at this
// address"), so we call the same LedgerService.ListEvents method the SDK uses, with that filter: one
// ascending stream of every `k3s_daas` event. Reading the frames ourselves also gives us the watermark
// checkpoint (how far the scan has fully covered) for the lag metric.
import type { SuiGrpcClient } from '@mysten/sui/grpc';
import { fromBase64, toBase64 } from '@mysten/sui/utils';

export interface RawEvent {
  eventType: string;
  bcs: Uint8Array;
  checkpoint: bigint;
  txDigest: string;
  /** Position of the transaction within its checkpoint, when the server reports it. */
  transactionIndex?: number;
  eventIndex: number;
}

export interface EventPage {
  events: RawEvent[];
  hasNextPage: boolean;
  /** Base64 of the last watermark cursor received: the safe resume point (null when none was sent). */
  endCursor: string | null;
  /** Highest checkpoint the scan has fully covered, when the server reported one. */
  coveredCheckpoint?: bigint;
}

export interface ChainHead {
  checkpoint: bigint;
  timestampMs: number;
}

/**
 * What the indexer needs from the chain; the gRPC implementation is below, tests may substitute.
 * `timeoutMs` caps one call below the source's own call timeout (the run's remaining time).
 */
export interface EventSource {
  readPage(after: string | undefined, limit: number, timeoutMs?: number): Promise<EventPage>;
  head(timeoutMs?: number): Promise<ChainHead>;
  checkpointTimestampMs(checkpoint: bigint, timeoutMs?: number): Promise<number>;
}

/** The provider failed or answered nonsense; the cursor must stay where it was. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** Rate limits and transient unavailability: worth a backoff and another try. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

const RETRYABLE_CODES = new Set(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'ABORTED', 'timeout']);
const QUERY_END_ITEM_LIMIT = 1;
const QUERY_END_SCAN_LIMIT = 2;

const READ_MASK = ['event_type', 'contents', 'checkpoint', 'transaction_digest', 'transaction_index', 'event_index'];

export class GrpcEventSource implements EventSource {
  constructor(
    /** SuiGrpcClient, or the indexer's LedgerService-only client (ledger-client.ts). */
    private readonly client: Pick<SuiGrpcClient, 'ledgerService'>,
    private readonly packageId: string,
    private readonly callTimeoutMs = 10_000,
  ) {}

  async readPage(after: string | undefined, limit: number, timeoutMs?: number): Promise<EventPage> {
    return this.call('ListEvents', timeoutMs, async (signal) => {
      const call = this.client.ledgerService.listEvents(
        {
          readMask: { paths: READ_MASK },
          filter: { terms: [{ literals: [{ negated: false, predicate: { oneofKind: 'eventType', eventType: { eventType: this.packageId } } }] }] },
          options: { limit, ordering: 0, after: after ? fromBase64(after) : undefined },
        },
        { abort: signal },
      );
      const events: RawEvent[] = [];
      let endCursor: string | null = null;
      let coveredCheckpoint: bigint | undefined;
      let endReason: number | undefined;
      for await (const frame of call.responses) {
        if (frame.watermark?.cursor && frame.watermark.cursor.length > 0) endCursor = toBase64(frame.watermark.cursor);
        if (frame.watermark?.checkpoint !== undefined) coveredCheckpoint = frame.watermark.checkpoint;
        if (frame.event) events.push(toRawEvent(frame.event, endCursor));
        if (frame.end) endReason = frame.end.reason ?? 0;
      }
      if (events.length > 0 && endCursor === null) throw new ProviderError('page has events but no watermark cursor', 'malformed', false);
      const hasNextPage = endReason === QUERY_END_ITEM_LIMIT || endReason === QUERY_END_SCAN_LIMIT;
      if (hasNextPage && endCursor === null) throw new ProviderError('page says more remain but gives no cursor', 'malformed', false);
      return { events, hasNextPage, endCursor, coveredCheckpoint };
    });
  }

  async head(timeoutMs?: number): Promise<ChainHead> {
    return this.call('GetServiceInfo', timeoutMs, async (signal) => {
      const { response } = await this.client.ledgerService.getServiceInfo({}, { abort: signal });
      if (response.checkpointHeight === undefined || !response.timestamp) {
        throw new ProviderError('service info lacks checkpoint height or timestamp', 'malformed', false);
      }
      return { checkpoint: response.checkpointHeight, timestampMs: timestampMs(response.timestamp) };
    });
  }

  async checkpointTimestampMs(checkpoint: bigint, timeoutMs?: number): Promise<number> {
    return this.call('GetCheckpoint', timeoutMs, async (signal) => {
      const { response } = await this.client.ledgerService.getCheckpoint(
        { checkpointId: { oneofKind: 'sequenceNumber', sequenceNumber: checkpoint }, readMask: { paths: ['summary.timestamp'] } },
        { abort: signal },
      );
      const ts = response.checkpoint?.summary?.timestamp;
      if (!ts) throw new ProviderError(`checkpoint ${checkpoint} has no timestamp`, 'malformed', false);
      return timestampMs(ts);
    });
  }

  private async call<T>(what: string, capMs: number | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = Math.min(this.callTimeoutMs, capMs ?? Infinity);
    // No time left in the run: not starting the call is the only way to end before the deadline.
    if (!(timeoutMs > 0)) throw new ProviderError(`${what} not started: no time left before the deadline`, 'timeout', false);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new ProviderError(`${what} timed out after ${timeoutMs} ms`, 'timeout', true));
      }, timeoutMs);
    });
    try {
      return await Promise.race([fn(controller.signal), timeout]);
    } catch (error) {
      throw classify(what, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function toRawEvent(event: {
  eventType?: string; contents?: { value?: Uint8Array }; checkpoint?: bigint; transactionDigest?: string;
  transactionIndex?: bigint; eventIndex?: number;
}, cursor: string | null): RawEvent {
  if (!event.eventType || event.checkpoint === undefined || !event.transactionDigest || event.eventIndex === undefined) {
    throw new ProviderError(`event near cursor ${cursor ?? '(start)'} lacks its type, checkpoint, digest or index`, 'malformed', false);
  }
  // A Move event is never empty (a struct has at least one field). Missing contents are the provider's
  // fault (read mask not honoured, say): skipping them as undecodable would silently pass every event by.
  if (!event.contents?.value || event.contents.value.length === 0) {
    throw new ProviderError(`event near cursor ${cursor ?? '(start)'} has no contents`, 'malformed', false);
  }
  return {
    eventType: event.eventType,
    bcs: event.contents.value,
    checkpoint: event.checkpoint,
    txDigest: event.transactionDigest,
    ...(event.transactionIndex !== undefined ? { transactionIndex: Number(event.transactionIndex) } : {}),
    eventIndex: event.eventIndex,
  };
}

function timestampMs(ts: { seconds: bigint; nanos: number }): number {
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
}

function classify(what: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const code = String((error as { code?: unknown })?.code ?? 'UNKNOWN');
  const message = error instanceof Error ? error.message : String(error);
  const rateLimited = /\b429\b|too many requests/i.test(message);
  return new ProviderError(`${what} failed: ${code} ${message}`, rateLimited ? 'RESOURCE_EXHAUSTED' : code, rateLimited || RETRYABLE_CODES.has(code));
}
