/**
 * A bounded cache whose entries expire: least recently used entries are dropped first once
 * `maxEntries` is reached, and an entry is never returned after its own expiry time.
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAtMs: number }>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: { maxEntries: number; now: () => number }) {
    this.maxEntries = options.maxEntries;
    this.now = options.now;
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() >= entry.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key); // re-insert: Map order is the recency order
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` until `expiresAtMs` (ms since the epoch); nothing is kept if that is not in the future. */
  set(key: string, value: T, expiresAtMs: number): void {
    this.entries.delete(key);
    if (!(expiresAtMs > this.now())) return;
    this.entries.set(key, { value, expiresAtMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Removes and returns an entry (a one-time value such as a pending login's state). */
  take(key: string): T | undefined {
    const value = this.get(key);
    this.entries.delete(key);
    return value;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
