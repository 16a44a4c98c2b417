import { RecencyCache } from '../../../../lambdas/shared/credentials/recency-cache';

function filled(capacity: number, count = capacity): RecencyCache<string, number> {
  const cache = new RecencyCache<string, number>(capacity);
  for (let i = 0; i < count; i++) cache.set(`k${i}`, i);
  return cache;
}

describe('RecencyCache', () => {
  it('drops the oldest insertion first when nothing is used', () => {
    const cache = filled(4);
    cache.set('k4', 4);
    expect(cache.keys()).toEqual(['k1', 'k2', 'k3', 'k4']);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.size).toBe(4);
  });

  it('moves a used entry of the older half to the young end, so it outlives unused newer ones', () => {
    const cache = filled(4); // k0 k1 | k2 k3: k0 and k1 are the older half
    expect(cache.get('k0')).toBe(0);
    expect(cache.keys()).toEqual(['k1', 'k2', 'k3', 'k0']);
    cache.set('k4', 4);
    cache.set('k5', 5);
    expect(cache.keys()).toEqual(['k3', 'k0', 'k4', 'k5']);
  });

  it('leaves a used entry of the young half where it is (no delete and re-insert on every hit)', () => {
    const cache = filled(4);
    expect(cache.get('k3')).toBe(3);
    expect(cache.get('k3')).toBe(3);
    expect(cache.keys()).toEqual(['k0', 'k1', 'k2', 'k3']);
    // k2 is the newest but one insertion: still young, not moved either.
    expect(cache.get('k2')).toBe(2);
    expect(cache.keys()).toEqual(['k0', 'k1', 'k2', 'k3']);
  });

  it('keeps a key that is used again and again, however many others come and go', () => {
    const capacity = 100;
    const cache = filled(capacity);
    for (let i = capacity; i < 10 * capacity; i++) {
      expect(cache.get('hot')).toBe(i === capacity ? undefined : -1);
      if (i === capacity) cache.set('hot', -1);
      cache.set(`k${i}`, i);
      expect(cache.size).toBeLessThanOrEqual(capacity);
    }
    expect(cache.get('hot')).toBe(-1);
  });

  it('keeps an entry for at least ⌈capacity / 2⌉ − 1 insertions after its last use', () => {
    for (const capacity of [2, 3, 10, 11]) {
      for (let lastUseAt = 0; lastUseAt < 2 * capacity; lastUseAt++) {
        const cache = filled(capacity);
        cache.set('watched', -1);
        // Other keys come in; the watched entry is used once, `lastUseAt` insertions in.
        for (let i = 0; i < lastUseAt; i++) cache.set(`a${i}`, i);
        if (cache.get('watched') === undefined) continue; // already gone before its use: not this case
        const kept = Math.ceil(capacity / 2) - 1;
        for (let i = 0; i < kept; i++) {
          cache.set(`b${i}`, i);
          expect(cache.keys()).toContain('watched');
        }
      }
    }
  });

  it('evicts in least-recently-used order once every entry has aged into the older half', () => {
    const cache = filled(6); // k0 k1 k2 | k3 k4 k5
    cache.get('k1');
    cache.get('k0');
    expect(cache.keys()).toEqual(['k2', 'k3', 'k4', 'k5', 'k1', 'k0']);
    cache.set('n0', 0);
    cache.set('n1', 0);
    cache.set('n2', 0);
    expect(cache.keys()).toEqual(['k5', 'k1', 'k0', 'n0', 'n1', 'n2']);
  });

  it('replaces a value in place of the old one, at the young end, without growing', () => {
    const cache = filled(3);
    cache.set('k0', 10);
    expect(cache.keys()).toEqual(['k1', 'k2', 'k0']);
    expect(cache.get('k0')).toBe(10);
    expect(cache.size).toBe(3);
  });

  it('holds nothing with capacity 0, and refuses a capacity that is not a whole number ≥ 0', () => {
    const cache = new RecencyCache<string, number>(0);
    cache.set('k', 1);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(() => new RecencyCache(-1)).toThrow(RangeError);
    expect(() => new RecencyCache(1.5)).toThrow(RangeError);
  });

  it('forgets a deleted key', () => {
    const cache = filled(3);
    expect(cache.delete('k1')).toBe(true);
    expect(cache.delete('k1')).toBe(false);
    expect(cache.keys()).toEqual(['k0', 'k2']);
  });
});
