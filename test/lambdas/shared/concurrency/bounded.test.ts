// The bounded pool behind the indexer's parallel evictions and batched writes: never more than the limit
// in flight, no new task after a failure, and no rejection while tasks of its own are still running.
import { describe, expect, it } from '@jest/globals';
import { forEachBounded } from '../../../../lambdas/shared/concurrency/bounded';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('forEachBounded', () => {
  it('runs every item with at most `limit` in flight, starting the next as one finishes', async () => {
    const gates = Array.from({ length: 20 }, gate);
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const done = forEachBounded(gates.keys(), 3, async (i) => {
      started.push(i);
      most = Math.max(most, ++inFlight);
      await gates[i].opened;
      inFlight--;
    });
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) {
      g.open();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(started).toEqual([...gates.keys()]);
    expect(most).toBe(3);
  });

  it('after a failure starts nothing new, waits for the tasks in flight, then rejects with the first error', async () => {
    const slow = gate();
    let slowFinished = false;
    const started: number[] = [];
    const outcome = forEachBounded([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      if (i === 0) {
        await slow.opened;
        slowFinished = true;
      }
      if (i === 1) throw new Error('task 1 failed');
    }).then(() => 'resolved', (error: Error) => error.message);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    let settled = false;
    void outcome.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // task 0 still runs
    slow.open();
    expect(await outcome).toBe('task 1 failed');
    expect(slowFinished).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it('handles fewer items than the limit, none at all, and refuses a limit below one', async () => {
    const seen: string[] = [];
    await forEachBounded(['a'], 8, async (x) => {
      seen.push(x);
    });
    await forEachBounded([], 8, async () => {
      throw new Error('never called');
    });
    expect(seen).toEqual(['a']);
    await expect(forEachBounded(['a'], 0, async () => undefined)).rejects.toThrow(RangeError);
  });
});
