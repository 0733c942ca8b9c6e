import { MEMORY_CACHE_MAX_ENTRIES } from "../limits";
import type { CacheEntry } from "./cached";

interface Slot {
  entry: CacheEntry;
  until: number;
}

// Isolate memory is the fastest tier; a Map keeps insertion order, so the first key is the oldest.
const slots = new Map<string, Slot>();

export const memoryCache = {
  get(hash: string, now: number): CacheEntry | null {
    const slot = slots.get(hash);
    if (!slot) return null;
    if (slot.until <= now) {
      slots.delete(hash);
      return null;
    }
    return slot.entry;
  },

  /** Keeps the newer of two versions: a slow fill never replaces what a state change wrote. */
  set(hash: string, entry: CacheEntry, until: number, { force = false } = {}): void {
    const current = slots.get(hash);
    if (!force && current && current.entry.v > entry.v) return;
    slots.delete(hash);
    if (slots.size >= MEMORY_CACHE_MAX_ENTRIES) slots.delete(slots.keys().next().value!);
    slots.set(hash, { entry, until });
  },

  /** Drops the slot unless a newer version than `upToVersion` is already there. */
  forget(hash: string, upToVersion: number): void {
    const current = slots.get(hash);
    if (current && current.entry.v <= upToVersion) slots.delete(hash);
  },

  clear(): void {
    slots.clear();
  },
};
