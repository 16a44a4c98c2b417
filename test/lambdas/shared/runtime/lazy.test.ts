import { describe, expect, it } from '@jest/globals';
import { lazyLoad } from '../../../../lambdas/shared/runtime/lazy';
import { lazyInstanceTerminator } from '../../../../lambdas/indexer/handler';
import { InstanceApiError, type InstanceTerminator } from '../../../../lambdas/indexer/eviction';

describe('lazyLoad', () => {
  it('loads on first use only, once for concurrent callers', async () => {
    let loads = 0;
    const get = lazyLoad(async () => ({ n: ++loads }));
    expect(loads).toBe(0);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(await get()).toBe(a);
    expect(loads).toBe(1);
  });

  it('forgets a failed load so the next call tries again', async () => {
    let attempts = 0;
    const get = lazyLoad(async () => {
      attempts++;
      if (attempts === 1) throw new Error('chunk missing');
      return 'ok';
    });
    await expect(get()).rejects.toThrow('chunk missing');
    await expect(get()).resolves.toBe('ok');
    expect(attempts).toBe(2);
  });
});

describe('the indexer\'s lazily loaded Auto Scaling terminator', () => {
  const fake = (): InstanceTerminator & { calls: string[] } => {
    const calls: string[] = [];
    return {
      calls,
      describeStates: async (ids) => { calls.push(`describe ${ids.join(',')}`); return new Map(ids.map((id) => [id, 'running'])); },
      terminate: async (ids) => { calls.push(`terminate ${ids.join(',')}`); },
    };
  };

  it('does not load Auto Scaling until an eviction needs it, then delegates every call to one client', async () => {
    const inner = fake();
    let loads = 0;
    const terminator = lazyInstanceTerminator(async () => { loads++; return inner; });
    expect(loads).toBe(0);
    expect(await terminator.describeStates(['i-1'])).toEqual(new Map([['i-1', 'running']]));
    await terminator.terminate(['i-1']);
    expect(inner.calls).toEqual(['describe i-1', 'terminate i-1']);
    expect(loads).toBe(1);
  });

  it('reports a failed load as an Auto Scaling failure (InstanceApiError: the stake is retried next run), and retries the load', async () => {
    let loads = 0;
    const inner = fake();
    const terminator = lazyInstanceTerminator(async () => {
      if (++loads === 1) throw new Error('Cannot find module');
      return inner;
    });
    const failure = await terminator.terminate(['i-2']).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InstanceApiError);
    expect((failure as Error).message).toMatch(/Auto Scaling client could not be loaded/);
    await terminator.terminate(['i-2']);
    expect(inner.calls).toEqual(['terminate i-2']);
  });

});
