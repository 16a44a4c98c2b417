// A bounded map that drops its least recently used entries first, for the per-container caches of the
// token path. It keeps entries in a Map, whose iteration order is insertion order, and evicts the first.
//
// Why it does not move every hit to the young end: delete + set of the same key in a full Map of
// thousands of entries makes V8 rehash the table nearly every time (one hot key: ~30 µs a hit,
// docs/capacity.md). So a hit moves its entry only once the entry has fallen into the older half, by an
// insertion counter. What it keeps of LRU: an entry stays for at least ⌈capacity / 2⌉ − 1 insertions after
// its last use (strict LRU: capacity − 1), and the entry evicted is always one unused for that long.

interface Slot<V> {
  value: V;
  /** The insertion counter when this entry was (re)inserted at the young end. */
  stamp: number;
}

export class RecencyCache<K, V> {
  private readonly slots = new Map<K, Slot<V>>();
  private insertions = 0;
  private readonly youngHalf: number;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`cache capacity must be a whole number ≥ 0, not ${capacity}`);
    this.youngHalf = Math.floor(capacity / 2);
  }

  get size(): number {
    return this.slots.size;
  }

  /** The value, marking it used (moved to the young end if it had fallen into the older half). */
  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (this.insertions - slot.stamp > this.youngHalf) {
      this.slots.delete(key);
      slot.stamp = this.insertions++;
      this.slots.set(key, slot);
    }
    return slot.value;
  }

  /** Adds or replaces `key` at the young end, dropping the least recently used entry when full. */
  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.slots.delete(key);
    if (this.slots.size >= this.capacity) this.slots.delete(this.slots.keys().next().value as K);
    this.slots.set(key, { value, stamp: this.insertions++ });
  }

  delete(key: K): boolean {
    return this.slots.delete(key);
  }

  /** Keys from the next to be evicted to the most recently inserted (for tests). */
  keys(): K[] {
    return [...this.slots.keys()];
  }
}
