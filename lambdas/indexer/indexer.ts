// One indexer run: page the package's events from the stored cursor, decode, apply to the index, evict
// the nodes of unstaked, slashed or withdrawn stakes, and only then advance the cursor (conditionally, so a
// concurrent run can never move it backwards). A crash at any point leaves the cursor at the last page
// whose effects are all durable; the next run replays from there and the idempotent rules converge.
import { randomUUID } from 'node:crypto';
import { comparePositions, type IndexRepository, type IndexerCursor, type ResweepEntry } from '../shared/index/index-repository';
import type { EventPosition } from '../shared/index/index-model';
import { applyEventsToIndex, resweepStakes, type PositionedEvent } from '../shared/index/event-applier';
import { decodeEvent, UnknownEventError } from '../shared/sui/events';
import { InstanceApiError, type Evictor } from './eviction';
import { ProviderError, type EventPage, type EventSource, type RawEvent } from './event-source';
import { SharedStakeLookups } from './stake-lookups';
import { INDEXER_SAFETY_MARGIN_MS } from '../shared/runtime/aws-clients';
import { forEachBounded } from '../shared/concurrency/bounded';

/**
 * Kept free at the end of a run for the cursor write and publishing metrics: no provider call may run
 * into it (each gets at most the remaining time minus this), so a hanging provider never outlives the run.
 */
export const FINAL_RESERVE_MS = 5_000;

/**
 * Stakes evicted (and re-swept) at once. Each eviction is a few dependent calls (GSI query, claims,
 * DescribeInstances, TerminateInstances, marks), so a page's evictions overlap instead of queueing; the
 * bound keeps Auto Scaling's request rate and the SDK's socket pool within reach.
 */
export const EVICTION_CONCURRENCY = 8;

export interface IndexerLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface IndexerDeps {
  repo: IndexRepository;
  source: EventSource;
  evictor: Evictor;
  packageId: string;
  log: IndexerLog;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Names this run on the re-sweep entries it adds (default: a random UUID). */
  runId?: () => string;
}

export interface RunOptions {
  /** Milliseconds left before the platform kills us (Lambda `getRemainingTimeInMillis`). */
  remainingMs: () => number;
  /** Stop starting new pages when less than this is left: one page read + apply must fit. */
  safetyMarginMs?: number;
  pageLimit?: number;
  /** Tries per page on rate limiting / unavailability before giving up until the next run. */
  maxProviderAttempts?: number;
  baseBackoffMs?: number;
}

export type StopReason = 'caught_up' | 'deadline' | 'provider_error';

export interface RunReport {
  pages: number;
  events: number;
  applied: number;
  stale: number;
  ignored: number;
  /** Unknown event types, undecodable payloads and out-of-range values: logged and skipped. */
  skipped: number;
  /**
   * The part of `skipped` that is of a known type: a payload that did not decode or an out-of-range value.
   * Never expected from the deployed package; each one may be a slash or revocation the index lacks.
   */
  undecodable: number;
  terminated: number;
  providerErrors: number;
  /** Evictions Auto Scaling failed; their stakes keep their re-sweep entries and are retried next run. */
  evictionErrors: number;
  /** Stakes swept a second time in this run (re-sweep entries of earlier runs). */
  resweptStakes: number;
  /** Stakes left with a re-sweep entry for the next run: evicted in this run, or whose retry is still due. */
  resweepPending: number;
  stoppedBecause: StopReason;
  cursor?: IndexerCursor;
  lagCheckpoints?: number;
  lagSeconds?: number;
}

export async function runIndexer(deps: IndexerDeps, options: RunOptions): Promise<RunReport> {
  const { repo, source, log } = deps;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const margin = options.safetyMarginMs ?? INDEXER_SAFETY_MARGIN_MS;
  const callBudget = () => options.remainingMs() - FINAL_RESERVE_MS;
  const limit = options.pageLimit ?? 50;
  const maxAttempts = options.maxProviderAttempts ?? 3;
  const baseBackoff = options.baseBackoffMs ?? 500;

  const report: RunReport = {
    pages: 0, events: 0, applied: 0, stale: 0, ignored: 0, skipped: 0, undecodable: 0, terminated: 0, providerErrors: 0, evictionErrors: 0,
    resweptStakes: 0, resweepPending: 0, stoppedBecause: 'caught_up',
  };
  const run = deps.runId?.() ?? randomUUID();
  let cursor = await repo.getCursor();
  const tip = chainTip(source, callBudget);
  // Stakes with a re-sweep entry after this run: those evicted in this run, and retries still due.
  const pending = new Set<string>();
  const lookups = new SharedStakeLookups(repo);
  /** Evicts a stake's nodes; false when the eviction must be tried again by a later run. */
  const evict = async (stakeId: string): Promise<boolean> => {
    if (options.remainingMs() < margin) {
      // Near the deadline: leave it to the next run (the stake keeps or gets its re-sweep entry).
      log.warn('eviction deferred to the next run: the Lambda deadline is near', { stakeId });
      return false;
    }
    let eviction;
    try {
      eviction = await deps.evictor.evictStake(stakeId, lookups.takeNodes(stakeId));
    } catch (error) {
      if (!(error instanceof InstanceApiError)) throw error;
      report.evictionErrors++;
      log.error('could not evict the nodes of an inactive stake; the next run tries again', { stakeId, message: error.message });
      return false;
    }
    report.terminated += eviction.terminated.length;
    if (eviction.terminated.length + eviction.alreadyGone.length > 0) {
      log.info('evicted nodes of an inactive stake', { stakeId, ...eviction });
    }
    if (eviction.refused.length > 0) log.error('nodes of a foreign group under a slashed stake left running', { stakeId, refused: eviction.refused });
    if (eviction.claimedElsewhere.length > 0) {
      // Another run holds the claim: look again next run, until every node is marked (or its claim is stale).
      log.warn('eviction claimed by another run; checking again next run', { stakeId, claimedElsewhere: eviction.claimedElsewhere });
      return false;
    }
    return true;
  };

  if (cursor?.resweepStakes?.length) cursor = await migrateResweepList(repo, cursor, run, now);
  // The second look gets at most half of the run: a backlog of re-sweeps must not hold back new events
  // (revocations, slashes); what is left waits for the next run.
  const resweepStopsAt = Math.max(margin, options.remainingMs() / 2);
  await resweepEarlierRuns(lookups, evict, () => options.remainingMs() < resweepStopsAt, pending, report, log);

  for (;;) {
    if (options.remainingMs() < margin) {
      report.stoppedBecause = 'deadline';
      break;
    }
    let page: EventPage | undefined;
    for (let attempt = 1; !page; attempt++) {
      try {
        // The tip is read before the first page (with the same retries), so every page is checked against it.
        if (tip.checkpoint === undefined) await tip.refresh();
        page = await source.readPage(cursor?.cursor, limit, callBudget());
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        report.providerErrors++;
        const backoff = baseBackoff * 2 ** (attempt - 1);
        log.warn('event provider failed', { code: error.code, retryable: error.retryable, attempt, message: error.message });
        if (!error.retryable || attempt >= maxAttempts || options.remainingMs() - backoff < margin) break;
        await sleep(backoff + Math.floor(Math.random() * backoff * 0.2));
      }
    }
    if (!page) {
      report.stoppedBecause = 'provider_error';
      break;
    }
    report.pages++;
    if (cursor && behindCursor(page, cursor)) {
      // A lagging replica behind a load balancer, say. Replaying is harmless, but storing its watermark
      // would move the cursor backwards; the next run asks again.
      report.providerErrors++;
      log.warn('event provider answered from behind the stored cursor; ending the run', {
        cursorCheckpoint: cursor.checkpoint.toString(), pageCoveredCheckpoint: page.coveredCheckpoint?.toString(),
        firstEventCheckpoint: page.events[0]?.checkpoint.toString(),
      });
      report.stoppedBecause = 'provider_error';
      break;
    }
    let backed;
    try {
      backed = await tip.covers(page);
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      report.providerErrors++;
      log.warn('could not read the chain tip again to check the page against it; ending the run', { message: error.message });
      report.stoppedBecause = 'provider_error';
      break;
    }
    if (!backed) {
      // Storing a watermark beyond the tip would skip every event up to it for good, with the lag reading
      // 0 all along. A provider with a broken view of the chain is refused until it answers sanely.
      report.providerErrors++;
      log.error('event provider reported a position beyond the chain tip; page refused, cursor kept', {
        tipCheckpoint: tip.checkpoint?.toString(), pageCoveredCheckpoint: page.coveredCheckpoint?.toString(),
        lastEventCheckpoint: page.events.at(-1)?.checkpoint.toString(),
      });
      report.stoppedBecause = 'provider_error';
      break;
    }

    const { positioned, lastPosition } = positionEvents(page.events, cursor?.lastEvent, deps.packageId, log, report);
    const result = await applyEventsToIndex(lookups.repo, positioned);
    report.applied += result.applied;
    report.stale += result.stale;
    report.ignored += result.ignored;
    report.skipped += result.invalid;
    report.undecodable += result.invalid;
    if (result.resweepStakes.length > 0) {
      // Recorded before the cursor moves past the page: a later run sweeps each of them once more — the
      // evicted stakes, and the stakes whose tokens' backing the GSIs may have hidden (event-applier.ts).
      await repo.addResweeps(result.resweepStakes, run, now().toISOString());
      for (const stakeId of result.resweepStakes) pending.add(stakeId);
    }
    if (result.evictStakes.length > 0) {
      await forEachBounded(result.evictStakes, EVICTION_CONCURRENCY, async (stakeId) => {
        await evict(stakeId);
      });
    }
    lookups.clear();

    if (page.hasNextPage && page.endCursor === (cursor?.cursor ?? null)) {
      // A provider that claims more but never moves would keep us here until the deadline.
      report.providerErrors++;
      log.warn('event provider returned no progress; ending the run', { cursor: page.endCursor });
      report.stoppedBecause = 'provider_error';
      break;
    }
    // Advance only once the page's effects are durable. An empty page with no cursor means nothing
    // was scanned: keep the old cursor.
    if (page.endCursor !== null && page.endCursor !== cursor?.cursor) {
      const next: IndexerCursor = {
        cursor: page.endCursor,
        // Without a watermark checkpoint the scan has at least covered what precedes its last event's checkpoint.
        checkpoint: maxBig(cursor?.checkpoint ?? 0n, page.coveredCheckpoint ?? (lastPosition ? lastPosition.checkpoint - 1n : 0n)),
        ...(maxPosition(cursor?.lastEvent, lastPosition) ? { lastEvent: maxPosition(cursor?.lastEvent, lastPosition) } : {}),
        eventsSeen: (cursor?.eventsSeen ?? 0) + page.events.length,
        updatedAt: now().toISOString(),
      };
      await repo.putCursor(next, cursor);
      cursor = next;
    }
    if (!page.hasNextPage) break;
  }
  report.resweepPending = pending.size;
  report.cursor = cursor;
  const coveredAtMs = await measureLag(deps, report, cursor, callBudget);
  report.cursor = await recordCoverage(repo, cursor, coveredAtMs, now);
  return report;
}

/**
 * Moves a list of stakes to re-sweep from a cursor written before re-sweep entries existed into
 * entries, then writes the cursor without it: the list is honoured once and the cursor item no longer
 * grows with the number of stakes. A crash in between only moves the list again.
 */
async function migrateResweepList(repo: IndexRepository, cursor: IndexerCursor, run: string, now: () => Date): Promise<IndexerCursor> {
  await repo.addResweeps(cursor.resweepStakes ?? [], run, now().toISOString());
  const next: IndexerCursor = { ...cursor, updatedAt: now().toISOString() };
  delete next.resweepStakes;
  await repo.putCursor(next, cursor);
  return next;
}

/**
 * The second look at stakes earlier runs evicted (the stake GSI lags, so their first sweep may have
 * missed a token or node), and the retry of evictions that failed or were deferred. Pages through the
 * re-sweep entries; an entry is removed once its stake is swept and every node is dealt with, and kept
 * (for the next run) otherwise. An entry the same stake gets again later in this run is a new one.
 */
async function resweepEarlierRuns(
  lookups: SharedStakeLookups,
  evict: (stakeId: string) => Promise<boolean>,
  deadlineNear: () => boolean,
  pending: Set<string>,
  report: RunReport,
  log: IndexerLog,
): Promise<void> {
  let startAfter: string | undefined;
  do {
    const { repo } = lookups;
    if (deadlineNear()) {
      // The rest keep their entries for the next run; one look tells whether any remain.
      const rest = await repo.resweepPage(startAfter, 1);
      for (const entry of rest.entries) pending.add(entry.stakeId);
      if (rest.entries.length > 0) log.warn('re-sweep backlog left for the next run', { resweptStakes: report.resweptStakes });
      return;
    }
    const page = await repo.resweepPage(startAfter);
    startAfter = page.nextStart;
    if (page.entries.length === 0) continue;
    const stakeIds = page.entries.map((e) => e.stakeId);
    const invalidated = await resweepStakes(repo, stakeIds);
    if (invalidated > 0) log.warn('second sweep corrected tokens the first sweep missed', { invalidated });
    // Entries also name active stakes (an admin approval changed, a token's backing to re-check): only a
    // stake that no longer backs nodes (unbonding, slashed, withdrawn) has its nodes evicted again.
    const stakes = await repo.getStakes(stakeIds);
    const done: ResweepEntry[] = [];
    await forEachBounded(page.entries, EVICTION_CONCURRENCY, async (entry) => {
      if (stakes.get(entry.stakeId)?.record.status === 'active' || await evict(entry.stakeId)) done.push(entry);
      else pending.add(entry.stakeId);
    });
    lookups.clear();
    await repo.removeResweeps(done);
    report.resweptStakes += page.entries.length;
  } while (startAfter !== undefined);
}

/**
 * The chain tip as the provider reports it (GetServiceInfo), read when a page first needs it and again
 * whenever a page claims more (the chain moves on during a run). A page is backed by the chain when
 * neither its watermark nor any of its events lie beyond the tip.
 */
function chainTip(source: EventSource, callBudget: () => number) {
  const state = {
    checkpoint: undefined as bigint | undefined,
    async refresh(): Promise<void> {
      state.checkpoint = (await source.head(callBudget())).checkpoint;
    },
    async covers(page: EventPage): Promise<boolean> {
      let claimed = page.coveredCheckpoint ?? -1n;
      for (const e of page.events) if (e.checkpoint > claimed) claimed = e.checkpoint;
      if (claimed < 0n) return true;
      if (state.checkpoint === undefined || claimed > state.checkpoint) await state.refresh();
      return claimed <= state.checkpoint!;
    },
  };
  return state;
}

/**
 * Stores the ledger time of the covered checkpoint on the cursor: token checks and node joins refuse
 * while it is older than their bound (lambdas/shared/index/freshness.ts), so an indexer that stops —
 * or a provider that stops advancing — fails closed instead of serving old state. It only moves
 * forward, and a run that could not measure it leaves it alone (it ages, which is the point).
 */
async function recordCoverage(repo: IndexRepository, cursor: IndexerCursor | undefined, coveredAtMs: number | undefined, now: () => Date) {
  if (!cursor || coveredAtMs === undefined || coveredAtMs <= (cursor.coveredThroughMs ?? -Infinity)) return cursor;
  const next: IndexerCursor = { ...cursor, coveredThroughMs: coveredAtMs, updatedAt: now().toISOString() };
  await repo.putCursor(next, cursor);
  return next;
}

/**
 * Decodes a page and gives each event its ledger position. txOrdinal is the transaction's index within
 * its checkpoint as the server reports it; a server that omits it gets the order of first appearance in
 * the ascending stream, carried across pages through the cursor's last event so that resuming in the
 * middle of a checkpoint numbers the remaining transactions exactly as an uninterrupted run would.
 */
function positionEvents(events: RawEvent[], last: EventPosition | undefined, packageId: string, log: IndexerLog, report: RunReport) {
  const positioned: PositionedEvent[] = [];
  let prev = last;
  let lastPosition: EventPosition | undefined;
  for (const raw of events) {
    report.events++;
    let txOrdinal: number;
    if (raw.transactionIndex !== undefined) txOrdinal = raw.transactionIndex;
    else if (prev && prev.checkpoint === raw.checkpoint) txOrdinal = prev.txDigest === raw.txDigest ? prev.txOrdinal : prev.txOrdinal + 1;
    else txOrdinal = 0;
    const position: EventPosition = { checkpoint: raw.checkpoint, txOrdinal, eventIndex: raw.eventIndex, txDigest: raw.txDigest };
    prev = position;
    lastPosition = position;
    try {
      positioned.push({ event: decodeEvent(raw.eventType, raw.bcs, packageId), position });
    } catch (error) {
      report.skipped++;
      if (!(error instanceof UnknownEventError)) report.undecodable++;
      log.warn(error instanceof UnknownEventError ? 'unknown event type skipped' : 'undecodable event skipped', {
        eventType: raw.eventType, checkpoint: raw.checkpoint.toString(), txDigest: raw.txDigest, eventIndex: raw.eventIndex,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return { positioned, lastPosition };
}

/**
 * Lag = how far the chain tip is ahead of what the index has fully covered. A covered checkpoint beyond
 * the tip is not "no lag": the cursor is not backed by the chain (a lagging replica answered, or a bad
 * watermark was stored before such pages were refused), so nothing is published and the lag alarm, which
 * treats silence as breaching, fires. Returns the ledger time of the covered checkpoint (undefined when
 * unknown), which recordCoverage stores for the freshness bound.
 */
async function measureLag(deps: IndexerDeps, report: RunReport, cursor: IndexerCursor | undefined, callBudget: () => number): Promise<number | undefined> {
  try {
    const head = await deps.source.head(callBudget());
    const covered = cursor?.checkpoint ?? 0n;
    if (covered > head.checkpoint) {
      report.providerErrors++;
      deps.log.error('the stored cursor is beyond the chain tip: lag unknown, not published', {
        cursorCheckpoint: covered.toString(), tipCheckpoint: head.checkpoint.toString(),
      });
      return undefined;
    }
    const behind = head.checkpoint - covered;
    if (behind === 0n) {
      report.lagCheckpoints = 0;
      report.lagSeconds = 0;
      // Covered up to the tip: the tip's time is what the index covers.
      return cursor ? head.timestampMs : undefined;
    }
    const at = await deps.source.checkpointTimestampMs(covered, callBudget());
    report.lagCheckpoints = Number(behind);
    report.lagSeconds = Math.max(0, Math.round((head.timestampMs - at) / 1000));
    return cursor && covered > 0n ? at : undefined;
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    report.providerErrors++;
    deps.log.warn('could not measure lag behind the chain head', { message: error.message });
    return undefined;
  }
}

/**
 * True when a page starts before what the cursor already covers: its covered checkpoint is lower (the
 * watermark never regresses), or an event lies in a checkpoint before the last one applied. Only
 * checkpoints are compared: transaction ordinals may be derived (see positionEvents) and are not
 * comparable with a server's transaction index.
 */
function behindCursor(page: EventPage, cursor: IndexerCursor): boolean {
  if (page.coveredCheckpoint !== undefined && page.coveredCheckpoint < cursor.checkpoint) return true;
  const last = cursor.lastEvent;
  return last !== undefined && page.events.some((e) => e.checkpoint < last.checkpoint);
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function maxPosition(a: EventPosition | undefined, b: EventPosition | undefined): EventPosition | undefined {
  if (!a) return b;
  if (!b) return a;
  return comparePositions(a, b) >= 0 ? a : b;
}
