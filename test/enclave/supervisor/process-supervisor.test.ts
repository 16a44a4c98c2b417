import { describe, expect, it } from '@jest/globals';
import { backoffDelay, supervise } from '../../../enclave/src/supervisor/process-supervisor';

describe('k3s process supervision', () => {
  it('backs off exponentially up to the cap', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 1000, 60_000))).toEqual([1000, 2000, 4000, 8000, 60_000]);
  });

  it('restarts a process that exits, with growing delays, and stops restarting on stop()', async () => {
    const exits: { code: number | null; next: number }[] = [];
    const sup = supervise({
      command: process.execPath,
      args: ['-e', 'process.exit(3)'],
      spawnOptions: { stdio: 'ignore' },
      initialBackoffMs: 20,
      maxBackoffMs: 80,
      onExit: (code, _signal, next) => exits.push({ code, next }),
    });
    const deadline = Date.now() + 20_000;
    while (exits.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await sup.stop();
    const seen = exits.length;
    expect(exits.slice(0, 4)).toEqual([
      { code: 3, next: 20 },
      { code: 3, next: 40 },
      { code: 3, next: 80 },
      { code: 3, next: 80 },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    expect(exits.length).toBe(seen);
  });

  it('stop() terminates a running child', async () => {
    const exits: unknown[] = [];
    const sup = supervise({ command: process.execPath, args: ['-e', 'setTimeout(() => {}, 60000)'], spawnOptions: { stdio: 'ignore' }, onExit: (c) => exits.push(c) });
    await new Promise((r) => setTimeout(r, 200));
    await sup.stop();
    expect(exits).toEqual([]);
    expect(sup.restarts).toBe(0);
  });
});
