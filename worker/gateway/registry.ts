import { MEMORY_NEGATIVE_TTL_MS, UPSTREAM_MEMORY_TTL_MS } from "../limits";
import type { UpstreamEntry } from "./upstream-cache";

/**
 * Upstream configurations kept in isolate memory, so a gateway request whose token is cached costs
 * no store read at all. Fresh for UPSTREAM_MEMORY_TTL_MS, like the token memory tier: an edit made
 * through another isolate reaches this one through KV after that; an edit made through this isolate
 * is seen at once. Past that the entry stays as the last configuration this isolate knew, served
 * only when neither KV nor D1 can answer.
 */
const MAX_ENTRIES = 1_000;

interface Slot {
  entry: UpstreamEntry;
  until: number;
}

// A Map keeps insertion order, so the first key is the one remembered longest ago.
const slots = new Map<string, Slot>();

function put(name: string, entry: UpstreamEntry, now: number): void {
  slots.delete(name);
  if (slots.size >= MAX_ENTRIES) slots.delete(slots.keys().next().value!);
  // A name with no upstream is remembered as long as an unknown token is.
  slots.set(name, { entry, until: now + (entry.upstream ? UPSTREAM_MEMORY_TTL_MS : MEMORY_NEGATIVE_TTL_MS) });
}

/** The entry while it is fresh, else undefined. */
export function freshUpstream(name: string, now: number): UpstreamEntry | undefined {
  const slot = slots.get(name);
  return slot && slot.until > now ? slot.entry : undefined;
}

/** The last entry this isolate knew, however old. */
export function lastKnownUpstream(name: string): UpstreamEntry | undefined {
  return slots.get(name)?.entry;
}

/**
 * Remembers what a read found, fresh from now on, unless a newer version is already here (a change
 * made in this isolate while the read was in flight): then that one is kept, and renewed. Returns
 * the entry kept.
 */
export function rememberUpstream(name: string, entry: UpstreamEntry, now: number): UpstreamEntry {
  const current = slots.get(name)?.entry;
  const kept = current && current.v > entry.v ? current : entry;
  put(name, kept, now);
  return kept;
}

/** A change made through this isolate: replaces whatever is here. */
export function overwriteRememberedUpstream(name: string, entry: UpstreamEntry, now: number): void {
  put(name, entry, now);
}

/** Drops the entry unless a newer version than `upToVersion` is here (the default drops any). */
export function forgetUpstream(name: string, upToVersion = Number.MAX_SAFE_INTEGER): void {
  const current = slots.get(name);
  if (current && current.entry.v <= upToVersion) slots.delete(name);
}
