import { MemoryTier } from "../cache/memory-tier";
import {
  MEMORY_CACHE_MAX_ENTRIES,
  MEMORY_CACHE_TTL_MS,
  MEMORY_NEGATIVE_TTL_MS,
  MEMORY_TOKEN_MAX_BYTES,
} from "../limits";
import type { CacheEntry } from "./cached";

/** The token cache's memory tier (worker/cache/tiered.ts): short-lived, since other isolates only learn of a change through KV. */
export const memoryCache = new MemoryTier<CacheEntry>({
  maxEntries: MEMORY_CACHE_MAX_ENTRIES,
  maxBytes: MEMORY_TOKEN_MAX_BYTES,
  ttlMs: (entry) => (entry.token ? MEMORY_CACHE_TTL_MS : MEMORY_NEGATIVE_TTL_MS),
  keepExpired: false,
});
