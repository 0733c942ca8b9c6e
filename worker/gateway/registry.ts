import { MemoryTier } from "../cache/memory-tier";
import { MEMORY_NEGATIVE_TTL_MS, MEMORY_UPSTREAM_MAX_BYTES, UPSTREAM_MEMORY_TTL_MS } from "../limits";
import type { UpstreamEntry } from "./upstream-cache";

const MAX_ENTRIES = 1_000;

/**
 * Upstream configurations kept in isolate memory, so a gateway request whose token is cached costs
 * no store read at all. Fresh for UPSTREAM_MEMORY_TTL_MS, like the token memory tier: an edit made
 * through another isolate reaches this one through KV after that; an edit made through this isolate
 * is seen at once. Past that the entry stays as the last configuration this isolate knew, served
 * only when neither KV nor D1 can answer.
 */
export const upstreamMemory = new MemoryTier<UpstreamEntry>({
  maxEntries: MAX_ENTRIES,
  maxBytes: MEMORY_UPSTREAM_MAX_BYTES,
  // A name with no upstream is remembered as long as an unknown token is.
  ttlMs: (entry) => (entry.upstream ? UPSTREAM_MEMORY_TTL_MS : MEMORY_NEGATIVE_TTL_MS),
  keepExpired: true,
});

/** Drops the entry unless a newer version than `upToVersion` is here (the default drops any). */
export function forgetUpstream(name: string, upToVersion = Number.MAX_SAFE_INTEGER): void {
  upstreamMemory.forget(name, upToVersion);
}
