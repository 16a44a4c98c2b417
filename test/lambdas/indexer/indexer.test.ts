import { describe, expect, it } from '@jest/globals';
import { RpcError } from '@protobuf-ts/runtime-rpc';
import { MemoryIndexRepository } from '../../../lambdas/shared/index/index-repository-memory';
import { roleToU8 } from '../../../lambdas/shared/sui/roles';
import { InstanceApiError } from '../../../lambdas/indexer/eviction';
import { EVICTION_CONCURRENCY, runIndexer } from '../../../lambdas/indexer/indexer';
import { checkpointTimeMs, generateHistory, prng, type GeneratedHistory } from '../../support/event-history';
import { createHarness, FaultPlan, InjectedFault } from '../../support/indexer-harness';

const HISTORY = generateHistory({ seed: 42, transactions: 400 });

async function cleanIndex(history: GeneratedHistory, node = {}) {
  const h = await createHarness(history, { node });
  const reports = await h.runUntilCaughtUp();
  return { h, reports, snapshot: (h.repo as MemoryIndexRepository).snapshot() };
}

describe('indexer: replaying a generated history', () => {
  it('builds the index the chain implies (stakes, tokens, revocations, slashes, withdrawals)', async () => {
    const { snapshot, reports } = await cleanIndex(HISTORY);
    expect(reports.map((r) => r.stoppedBecause)).toEqual(['caught_up', 'caught_up']); // the second only re-sweeps
    const { expected } = HISTORY;
    expect(snapshot.stakes.map((s) => s.stakeId).sort()).toEqual([...expected.stakes.keys()].sort());
    for (const stake of snapshot.stakes) {
      const want = expected.stakes.get(stake.stakeId)!;
      expect({ owner: stake.owner, role: roleToU8(stake.role), amount: stake.amountMist, status: stake.status }).toEqual(want);
    }
    expect(snapshot.tokens.map((t) => t.tokenId).sort()).toEqual([...expected.tokens.keys()].sort());
    for (const token of snapshot.tokens) {
      const want = expected.tokens.get(token.tokenId)!;
      expect({ stakeId: token.stakeId, owner: token.owner, revoked: token.revoked, invalidated: token.invalidated }).toEqual(want);
    }
    expect(new Map(snapshot.minStakes.map((m) => [roleToU8(m.role), m.amountMist]))).toEqual(expected.minStakes);
    expect(expected.minStakes.size).toBe(3);
    expect(new Map(snapshot.admins.map((a) => [a.address, a.approved]))).toEqual(expected.admins);
    expect(expected.admins.size).toBe(3);
    expect(HISTORY.counts['staking::AdminRevoked']).toBeGreaterThan(0);
    // The history exercises every rule.
    for (const name of ['staking::MinStakeChanged', 'staking::StakeSlashed', 'staking::StakeWithdrawn', 'seal_token::SealTokenRevoked', 'staking::UnstakeRequested', 'unstakeAfterSlash', 'slashAgain']) {
      expect(HISTORY.counts[name]).toBeGreaterThan(0);
    }
  });

  it('follows short and empty pages that still have hasNextPage, to the end of the stream', async () => {
    const h = await createHarness(HISTORY, { node: { scanLimit: 3, maxLimit: 5 } });
    const pages: number[] = [];
    const original = h.source.readPage.bind(h.source);
    h.source.readPage = async (after, limit) => {
      const page = await original(after, limit);
      pages.push(page.events.length);
      return page;
    };
    const [report] = await h.runUntilCaughtUp({ pageLimit: 5 });
    expect(pages.filter((n) => n === 0).length).toBeGreaterThan(0);
    expect(pages.filter((n) => n > 0 && n < 5).length).toBeGreaterThan(0);
    expect(report.events).toBe(HISTORY.ledger.filter((s) => s.eventType.startsWith(HISTORY.packageId)).length);
    const clean = await cleanIndex(HISTORY);
    expect((h.repo as MemoryIndexRepository).snapshot().tokens).toEqual(clean.snapshot.tokens);
  });

  it('counts and skips unknown event types and undecodable payloads without stalling the cursor', async () => {
    const history = generateHistory({ seed: 7, transactions: 200, noise: 0.3 });
    const { reports, snapshot } = await cleanIndex(history);
    const ownUnknown = (history.counts.noise1 ?? 0) + (history.counts.noise2 ?? 0);
    expect(ownUnknown).toBeGreaterThan(0);
    expect(reports[0].skipped).toBe(ownUnknown);
    // Only the undecodable SealTokenIssued payloads (noise2) are of a known type.
    expect(history.counts.noise2).toBeGreaterThan(0);
    expect(reports[0].undecodable).toBe(history.counts.noise2);
    expect(snapshot.cursor?.checkpoint).toBe(history.headCheckpoint);
    expect(reports[0].lagCheckpoints).toBe(0);
  });

  it('terminates the worker instances of slashed or withdrawn node stakes exactly once and records it', async () => {
    const { h, snapshot } = await cleanIndex(HISTORY);
    expect(HISTORY.expectedTerminations.length).toBeGreaterThan(0);
    const counts = h.ec2.terminationCounts();
    expect([...counts.keys()].sort()).toEqual(HISTORY.expectedTerminations);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    for (const node of snapshot.nodes) {
      expect(node.terminationRequestedAt !== undefined).toBe(HISTORY.expectedTerminations.includes(node.instanceId));
    }
    // A second pass over the whole history (cursor reset) must not terminate anything again.
    const replay = await createHarness(HISTORY, { repo: h.repo });
    replay.ec2.states.clear();
    for (const [id, state] of h.ec2.states) replay.ec2.states.set(id, state);
    await (h.repo as MemoryIndexRepository).putCursor(
      { cursor: '', checkpoint: 0n, eventsSeen: 0, updatedAt: 'x' },
      (await h.repo.getCursor())!,
    );
    await replay.runUntilCaughtUp();
    expect(replay.ec2.terminateCalls).toEqual([]);
  });

  it('an EC2 outage does not stall the index: the cursor moves on, failed evictions are retried next run, exactly once', async () => {
    const h = await createHarness(HISTORY);
    let ec2Down = true;
    const terminate = h.ec2.terminate.bind(h.ec2);
    h.ec2.terminate = async (ids) => {
      if (ec2Down) throw new InstanceApiError('TerminateInstances failed (UnauthorizedOperation: denied)');
      return terminate(ids);
    };
    const clean = await cleanIndex(HISTORY);
    for (let run = 0; run < 2; run++) {
      const report = await h.run();
      expect(report).toMatchObject({ stoppedBecause: 'caught_up', terminated: 0 });
      expect(report.evictionErrors).toBeGreaterThan(0);
      const stored = (h.repo as MemoryIndexRepository).snapshot();
      // Everything but eviction is indexed: revocations and slashes of everyone take effect meanwhile.
      expect(stored.cursor?.checkpoint).toBe(HISTORY.headCheckpoint);
      expect(stored.tokens).toEqual(clean.snapshot.tokens);
      expect(stored.stakes).toEqual(clean.snapshot.stakes);
      const pending = new Set(HISTORY.nodes.filter((n) => HISTORY.expectedTerminations.includes(n.instanceId)).map((n) => n.stakeId));
      expect([...pending].every((stakeId) => stored.resweep.includes(stakeId))).toBe(true);
    }
    expect(h.ec2.terminateCalls).toEqual([]);
    ec2Down = false;
    await h.runUntilCaughtUp();
    const counts = h.ec2.terminationCounts();
    expect([...counts.keys()].sort()).toEqual(HISTORY.expectedTerminations);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual(clean.snapshot);
  });

  it('any other eviction failure (the index itself) still fails the run before the cursor moves', async () => {
    const h = await createHarness(HISTORY);
    h.repo.nodesOfStake = async () => {
      throw new Error('index table unreachable');
    };
    h.repo.stakeMembers = h.repo.nodesOfStake as never;
    await expect(h.run()).rejects.toThrow('index table unreachable');
    const cursor = await h.repo.getCursor();
    const firstSlashOrWithdraw = HISTORY.ledger.find((e) => /StakeSlashed|StakeWithdrawn/.test(e.eventType))!;
    expect(cursor === undefined || cursor.checkpoint < firstSlashOrWithdraw.checkpoint).toBe(true);
  });

  it('sweeps slashed stakes again on the next run, catching tokens and nodes the lagging GSI hid', async () => {
    const h = await createHarness(HISTORY);
    let lagging = true;
    const { tokensOfStake, nodesOfStake, stakeMembers } = h.repo;
    // During the first run every lookup sees nothing, as a GSI that has not caught up yet would.
    h.repo.tokensOfStake = async (stakeId) => (lagging ? [] : tokensOfStake.call(h.repo, stakeId));
    h.repo.nodesOfStake = async (stakeId) => (lagging ? [] : nodesOfStake.call(h.repo, stakeId));
    h.repo.stakeMembers = async (stakeId) => (lagging ? { tokens: [], nodes: [] } : stakeMembers.call(h.repo, stakeId));
    const first = await h.run();
    lagging = false;
    expect(first.terminated).toBe(0);
    expect(first.resweepPending).toBeGreaterThan(0);
    expect((h.repo as MemoryIndexRepository).snapshot().resweep.length).toBe(first.resweepPending);
    const second = await h.run();
    expect(second.terminated).toBe(HISTORY.expectedTerminations.length);
    expect(second.resweptStakes).toBe(first.resweepPending);
    expect(second.resweepPending).toBe(0);
    expect((h.repo as MemoryIndexRepository).snapshot().resweep).toEqual([]);
    const clean = await cleanIndex(HISTORY);
    expect((h.repo as MemoryIndexRepository).snapshot().tokens).toEqual(clean.snapshot.tokens);
    expect([...h.ec2.terminationCounts().keys()].sort()).toEqual(HISTORY.expectedTerminations);
  });

  it('evicts the stakes of a page (and of the re-sweep) in parallel, never more than EVICTION_CONCURRENCY at once', async () => {
    const h = await createHarness(HISTORY);
    const deps = h.deps();
    let inFlight = 0;
    let most = 0;
    const evictStake = deps.evictor.evictStake.bind(deps.evictor);
    deps.evictor.evictStake = async (stakeId, nodes) => {
      most = Math.max(most, ++inFlight);
      try {
        await new Promise((r) => setImmediate(r)); // every started eviction is in flight before any ends
        return await evictStake(stakeId, nodes);
      } finally {
        inFlight--;
      }
    };
    for (let run = 0; run < 2; run++) await runIndexer(deps, { remainingMs: () => 600_000 });
    expect(most).toBe(EVICTION_CONCURRENCY);
    const clean = await cleanIndex(HISTORY);
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual(clean.snapshot);
    expect([...h.ec2.terminationCounts().values()].every((c) => c === 1)).toBe(true);
  });

  it('gives the re-sweep at most half of a run: the backlog waits for the next run, new events do not', async () => {
    const h = await createHarness(HISTORY);
    const first = await h.run({ remainingMs: () => (h.node.listEventsCalls < 1 ? 60_000 : 1_000) });
    expect(first.resweepPending).toBeGreaterThan(0);
    // Half the run has gone by the time the re-sweep would start its first page.
    let calls = 0;
    const second = await h.run({ remainingMs: () => (calls++ === 0 ? 600_000 : 250_000) });
    expect(second).toMatchObject({ resweptStakes: 0, stoppedBecause: 'caught_up' });
    expect(second.pages).toBeGreaterThan(1);
    expect(second.resweepPending).toBeGreaterThan(0);
    await h.runUntilCaughtUp();
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual((await cleanIndex(HISTORY)).snapshot);
  });

  it('stops before the deadline and resumes to the same index', async () => {
    const h = await createHarness(HISTORY);
    const first = await h.run({ remainingMs: () => (h.node.listEventsCalls < 4 ? 60_000 : 1_000), safetyMarginMs: 15_000 });
    expect(first.stoppedBecause).toBe('deadline');
    expect(first.pages).toBe(4);
    await h.runUntilCaughtUp();
    const clean = await cleanIndex(HISTORY);
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual(clean.snapshot);
  });

  it('near the deadline, evictions wait for the next run in their re-sweep entries: never lost, still exactly once', async () => {
    const h = await createHarness(HISTORY);
    const first = await h.run({ remainingMs: () => (h.node.listEventsCalls < 1 ? 60_000 : 1_000) });
    expect(first).toMatchObject({ stoppedBecause: 'deadline', pages: 1, terminated: 0 });
    expect(first.resweepPending).toBeGreaterThan(0);
    expect((h.repo as MemoryIndexRepository).snapshot().resweep.length).toBe(first.resweepPending);
    expect(h.ec2.terminateCalls).toEqual([]);
    await h.runUntilCaughtUp();
    const counts = h.ec2.terminationCounts();
    expect([...counts.keys()].sort()).toEqual(HISTORY.expectedTerminations);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });

  it('reports lag behind the chain head in checkpoints and seconds', async () => {
    const h = await createHarness(HISTORY);
    // Past the safety margin after two pages, with time left for the lag reading.
    const report = await h.run({ remainingMs: () => (h.node.listEventsCalls < 2 ? 60_000 : 10_000) });
    expect(report.stoppedBecause).toBe('deadline');
    const covered = report.cursor!.checkpoint;
    expect(report.lagCheckpoints).toBe(Number(HISTORY.headCheckpoint - covered));
    expect(report.lagSeconds).toBe(Math.round((Number(HISTORY.headCheckpoint - covered) * 250) / 1000));
    expect(report.lagCheckpoints).toBeGreaterThan(0);
  });

  it('records on the cursor the ledger time it has covered: the covered checkpoint\'s while behind, the head\'s once caught up', async () => {
    const h = await createHarness(HISTORY);
    // Past the safety margin after two pages, with time left for the lag reading (which gives the covered time).
    const partial = await h.run({ remainingMs: () => (h.node.listEventsCalls < 2 ? 60_000 : 10_000) });
    expect(partial.cursor!.coveredThroughMs).toBe(checkpointTimeMs(partial.cursor!.checkpoint));
    expect((await h.repo.getCursor())?.coveredThroughMs).toBe(checkpointTimeMs(partial.cursor!.checkpoint));
    await h.runUntilCaughtUp();
    expect((await h.repo.getCursor())?.coveredThroughMs).toBe(checkpointTimeMs(HISTORY.headCheckpoint));
  });

  it('a run that cannot measure the chain head leaves the covered time alone, so it ages and token checks fail closed', async () => {
    const h = await createHarness(HISTORY);
    await h.runUntilCaughtUp();
    const before = await h.repo.getCursor();
    h.node.transport.on('sui.rpc.v2.LedgerService/GetServiceInfo', () => { throw new RpcError('down', 'UNAVAILABLE'); });
    const report = await h.run({});
    expect(report.providerErrors).toBeGreaterThan(0);
    expect((await h.repo.getCursor())?.coveredThroughMs).toBe(before?.coveredThroughMs);
  });
});

describe('indexer: crash at any point and resume', () => {
  async function crashTest(history: GeneratedHistory, node: object, points: number, seed: number) {
    const clean = await cleanIndex(history, node);
    // Count the fault points of one clean run.
    const counter = new FaultPlan();
    const probe = await createHarness(history, { node });
    await probe.run({}, counter);
    const total = counter.points;
    expect(total).toBeGreaterThan(points);
    const rnd = prng(seed);
    const chosen = new Set<number>();
    while (chosen.size < points) chosen.add(1 + Math.floor(rnd() * total));

    for (const failAt of chosen) {
      const h = await createHarness(history, { node });
      await expect(h.run({}, new FaultPlan(failAt))).rejects.toBeInstanceOf(InjectedFault);
      await h.runUntilCaughtUp();
      const snapshot = (h.repo as MemoryIndexRepository).snapshot();
      expect({ failAt, snapshot }).toEqual({ failAt, snapshot: clean.snapshot });
      const counts = h.ec2.terminationCounts();
      expect({ failAt, terminated: [...counts.keys()].sort() }).toEqual({ failAt, terminated: history.expectedTerminations });
      expect({ failAt, repeated: [...counts.entries()].filter(([, c]) => c !== 1) }).toEqual({ failAt, repeated: [] });
    }
  }

  it('gives the clean-run index and exactly-once terminations after a fault at 60 random points', async () => {
    await crashTest(HISTORY, {}, 60, 1);
  });

  it('keeps transaction ordinals stable across resumes when the server omits transaction indexes', async () => {
    await crashTest(generateHistory({ seed: 9, transactions: 200 }), { withoutTransactionIndex: true, scanLimit: 7 }, 25, 2);
  });
});

describe('indexer: provider errors leave the cursor where it was', () => {
  async function afterOnePage(fail: (h: Awaited<ReturnType<typeof createHarness>>) => void, callTimeoutMs?: number) {
    const h = await createHarness(HISTORY, { callTimeoutMs });
    await h.run({ remainingMs: () => (h.node.listEventsCalls < 1 ? 60_000 : 0) });
    const before = await h.repo.getCursor();
    expect(before).toBeDefined();
    fail(h);
    const callsBefore = h.node.listEventsCalls;
    const report = await h.run({ maxProviderAttempts: 3, baseBackoffMs: 100 });
    expect(report.stoppedBecause).toBe('provider_error');
    // The provider position is untouched.
    const after = await h.repo.getCursor();
    // The position stays; the covered time may be refreshed from the tip read after the error (it never moves past the position).
    expect({ ...after, updatedAt: undefined, coveredThroughMs: undefined }).toEqual({ ...before, updatedAt: undefined, coveredThroughMs: undefined });
    expect(after!.coveredThroughMs ?? 0).toBeGreaterThanOrEqual(before!.coveredThroughMs ?? 0);
    return { h, report, calls: h.node.listEventsCalls - callsBefore };
  }

  it.each([
    ['429 rate limit', new RpcError('HTTP 429 Too Many Requests', 'UNAVAILABLE')],
    ['RESOURCE_EXHAUSTED', new RpcError('quota', 'RESOURCE_EXHAUSTED')],
    ['UNAVAILABLE', new RpcError('connection reset', 'UNAVAILABLE')],
  ])('%s: backs off, retries, then ends the run', async (_name, error) => {
    const { h, calls } = await afterOnePage((x) => {
      x.node.beforeListEvents = () => {
        throw error;
      };
    });
    expect(calls).toBe(3);
    expect(h.sleeps.length).toBe(2);
    expect(h.sleeps[1]).toBeGreaterThan(h.sleeps[0]);
  });

  it('timeout: a hanging ListEvents is abandoned and retried', async () => {
    const { calls } = await afterOnePage((x) => {
      x.node.beforeListEvents = () => new Promise(() => {});
    }, 30);
    expect(calls).toBe(3);
  });

  it('malformed page (event without checkpoint): not retried, cursor kept', async () => {
    const listCalls = (h: Awaited<ReturnType<typeof createHarness>>) =>
      h.node.transport.calls.filter((c) => c.method === 'sui.rpc.v2.LedgerService/ListEvents').length;
    let before = 0;
    const { h } = await afterOnePage((x) => {
      before = listCalls(x);
      x.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', () => [
        { event: { eventType: `${HISTORY.packageId}::staking::StakeWithdrawn`, transactionDigest: 'D', eventIndex: 0 }, watermark: { cursor: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9]) } },
        { watermark: { cursor: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9]) }, end: { reason: 3 } },
      ]);
    });
    expect(listCalls(h) - before).toBe(1);
  });

  it('malformed page (event without contents): not skipped as undecodable, the run ends and the cursor stays', async () => {
    const { report } = await afterOnePage((x) => {
      x.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: Parameters<typeof x.node.listEvents>[0]) =>
        (x.node.listEvents(request) as { event?: { contents?: unknown } }[]).map((frame) =>
          frame.event ? { ...frame, event: { ...frame.event, contents: undefined } } : frame));
    });
    expect(report.skipped).toBe(0);
  });

  it('a provider that says more remain but never moves the cursor ends the run instead of spinning', async () => {
    const { h } = await afterOnePage((x) => {
      x.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: { options?: { after?: Uint8Array } }) => [
        { watermark: { cursor: request.options?.after }, end: { reason: 2 } },
      ]);
    });
    expect(h.node.transport.calls.filter((c) => c.method === 'sui.rpc.v2.LedgerService/ListEvents').length).toBe(2);
  });

  it('a page served from behind the stored cursor (a lagging replica) ends the run and never moves the cursor back', async () => {
    const { h, report } = await afterOnePage((x) => {
      x.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: Parameters<typeof x.node.listEvents>[0]) =>
        x.node.listEvents({ ...request, options: { ...request.options, after: undefined, limit: 2 } }));
    });
    expect(report.providerErrors).toBe(1);
    h.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: Parameters<typeof h.node.listEvents>[0]) => h.node.listEvents(request));
    await h.runUntilCaughtUp();
    const clean = await cleanIndex(HISTORY);
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual(clean.snapshot);
  });

  it('a watermark beyond the chain tip is refused: the cursor stays, no later event is skipped, lag is not reported as 0', async () => {
    const far = HISTORY.headCheckpoint + 1_000_000n;
    const { h, report } = await afterOnePage((x) => {
      x.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: Parameters<typeof x.node.listEvents>[0]) =>
        (x.node.listEvents(request) as { watermark?: { cursor: Uint8Array; checkpoint?: bigint } }[]).map((frame) =>
          frame.watermark ? { ...frame, watermark: { cursor: new Uint8Array([0, 0, 0, 0, 0, 0, 0xff, 0xff]), checkpoint: far } } : frame));
    });
    expect(report.providerErrors).toBeGreaterThan(0);
    expect(report.applied).toBe(0);
    // The lag still measures the real distance to the tip (nothing from the bad page was stored).
    expect(report.lagCheckpoints).toBe(Number(HISTORY.headCheckpoint - report.cursor!.checkpoint));
    expect(report.lagCheckpoints).toBeGreaterThan(0);
    h.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: Parameters<typeof h.node.listEvents>[0]) => h.node.listEvents(request));
    await h.runUntilCaughtUp();
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual((await cleanIndex(HISTORY)).snapshot);
  });

  it('an event beyond the chain tip is refused the same way', async () => {
    const { report } = await afterOnePage((x) => {
      x.node.transport.on('sui.rpc.v2.LedgerService/ListEvents', (request: Parameters<typeof x.node.listEvents>[0]) =>
        (x.node.listEvents(request) as { event?: { checkpoint: bigint } }[]).map((frame) =>
          frame.event ? { ...frame, event: { ...frame.event, checkpoint: HISTORY.headCheckpoint + 7n } } : frame));
    });
    expect(report.applied).toBe(0);
  });

  it('a cursor already stored beyond the tip publishes no lag (the alarm treats silence as breaching), never 0', async () => {
    const h = await createHarness(HISTORY);
    await h.repo.putCursor({ cursor: 'AAAAAAAA//8=', checkpoint: HISTORY.headCheckpoint + 1_000_000n, eventsSeen: 0, updatedAt: 't' }, undefined);
    const report = await h.run();
    expect(report.lagCheckpoints).toBeUndefined();
    expect(report.lagSeconds).toBeUndefined();
    expect(report.providerErrors).toBeGreaterThan(0);
  });

  it('a chain tip that moved on during the run is read again before a page is refused', async () => {
    const h = await createHarness(HISTORY);
    let height = 1n; // the first tip read is far behind what the pages cover
    h.node.transport.on('sui.rpc.v2.LedgerService/GetServiceInfo', () => {
      const answer = { checkpointHeight: height, timestamp: { seconds: 1_780_000_000n, nanos: 0 } };
      height = HISTORY.headCheckpoint;
      return answer;
    });
    const report = await h.run();
    expect(report.stoppedBecause).toBe('caught_up');
    expect(report.cursor?.checkpoint).toBe(HISTORY.headCheckpoint);
  });

  it('a run after the provider recovers reaches the clean-run index', async () => {
    const { h } = await afterOnePage((x) => {
      x.node.beforeListEvents = () => {
        throw new RpcError('HTTP 429', 'UNAVAILABLE');
      };
    });
    h.node.beforeListEvents = () => {};
    await h.runUntilCaughtUp();
    const clean = await cleanIndex(HISTORY);
    expect((h.repo as MemoryIndexRepository).snapshot()).toEqual(clean.snapshot);
  });
});
