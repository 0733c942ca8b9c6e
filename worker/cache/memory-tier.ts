/** Anything a cache tier holds: `v` orders competing writes, so an older state never replaces a newer one. */
export interface Versioned {
  v: number;
}

export interface MemoryTierLimits<E> {
  maxEntries: number;
  /** The sum of the slots' sizes (see `sizeOf`) stays at or under this. */
  maxBytes: number;
  /** How long an entry stays fresh once remembered. */
  ttlMs: (entry: E) => number;
  /**
   * Whether a slot past its freshness is kept as the last state this isolate knew (served only when
   * neither KV nor D1 answers), or dropped when read.
   */
  keepExpired: boolean;
}

interface Slot<E> {
  entry: E;
  until: number;
  bytes: number;
}

/**
 * A slot's size as counted against `maxBytes`: its JSON text (what KV holds; mostly one byte a
 * character) and the key, plus a fixed allowance for the Map slot and the object headers.
 */
export const SLOT_OVERHEAD_BYTES = 128;
export const sizeOf = (key: string, entry: unknown) => key.length + JSON.stringify(entry).length + SLOT_OVERHEAD_BYTES;

/**
 * Isolate memory, the fastest tier, bounded in entries and in bytes. A Map keeps insertion order, so
 * the first key is the one written longest ago, and it goes first when either bound is reached.
 */
export class MemoryTier<E extends Versioned> {
  private readonly slots = new Map<string, Slot<E>>();
  private total = 0;

  constructor(private readonly limits: MemoryTierLimits<E>) {}

  /** The entry while it is fresh, else null. */
  get(key: string, now: number): E | null {
    const slot = this.slots.get(key);
    if (!slot) return null;
    if (slot.until > now) return slot.entry;
    if (!this.limits.keepExpired) this.drop(key, slot);
    return null;
  }

  /** The last entry this isolate knew, however old (null when none, or when expired ones are not kept). */
  lastKnown(key: string): E | null {
    return this.slots.get(key)?.entry ?? null;
  }

  /**
   * Remembers what a read found, fresh from now on, unless a newer version is already here (a change
   * made in this isolate while the read was in flight): then that one is kept, and renewed. Returns the
   * entry kept.
   */
  remember(key: string, entry: E, now: number, bytes?: number): E {
    const current = this.slots.get(key);
    if (current && current.entry.v > entry.v) {
      this.put(key, current.entry, now, current.bytes);
      return current.entry;
    }
    this.put(key, entry, now, bytes);
    return entry;
  }

  /** A change made through this isolate: replaces whatever is here. */
  overwrite(key: string, entry: E, now: number, bytes?: number): void {
    this.put(key, entry, now, bytes);
  }

  /** Drops the slot unless a newer version than `upToVersion` is here (the default drops any). */
  forget(key: string, upToVersion = Number.MAX_SAFE_INTEGER): void {
    const slot = this.slots.get(key);
    if (slot && slot.entry.v <= upToVersion) this.drop(key, slot);
  }

  clear(): void {
    this.slots.clear();
    this.total = 0;
  }

  /** The bytes counted against `maxBytes` now. */
  get bytes(): number {
    return this.total;
  }

  get entries(): number {
    return this.slots.size;
  }

  private put(key: string, entry: E, now: number, bytes = sizeOf(key, entry)): void {
    const old = this.slots.get(key);
    if (old) this.drop(key, old);
    // An entry larger than the whole tier is not kept: the next reader goes to KV.
    if (bytes > this.limits.maxBytes) return;
    for (const [oldestKey, oldest] of this.slots) {
      if (this.slots.size < this.limits.maxEntries && this.total + bytes <= this.limits.maxBytes) break;
      this.drop(oldestKey, oldest);
    }
    this.slots.set(key, { entry, until: now + this.limits.ttlMs(entry), bytes });
    this.total += bytes;
  }

  private drop(key: string, slot: Slot<E>): void {
    this.slots.delete(key);
    this.total -= slot.bytes;
  }
}
