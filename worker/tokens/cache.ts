import { KV_NEGATIVE_TTL_S, KV_TOKEN_KEY_PREFIX, KV_TOKEN_TTL_S, MEMORY_CACHE_TTL_MS, MEMORY_NEGATIVE_TTL_MS } from "../limits";
import type { CacheEntry } from "./cached";
import { memoryCache } from "./memory-cache";

const kvKey = (hash: string) => KV_TOKEN_KEY_PREFIX + hash;
const kvTtl = (entry: CacheEntry) => (entry.token ? KV_TOKEN_TTL_S : KV_NEGATIVE_TTL_S);
const memoryUntil = (entry: CacheEntry, now: number) => now + (entry.token ? MEMORY_CACHE_TTL_MS : MEMORY_NEGATIVE_TTL_MS);

export function rememberInMemory(hash: string, entry: CacheEntry, now: number): void {
  memoryCache.set(hash, entry, memoryUntil(entry, now));
}

export async function readKvEntry(kv: KVNamespace, hash: string): Promise<CacheEntry | null> {
  return kv.get<CacheEntry>(kvKey(hash), "json");
}

/**
 * Cache fill after a D1 read. KV has no compare-and-set, so it re-reads first: an entry with a newer
 * version means a state change landed while the read was in flight, and the older answer is dropped.
 */
export async function fillKvEntry(kv: KVNamespace, hash: string, entry: CacheEntry): Promise<void> {
  const current = await readKvEntry(kv, hash);
  if (current && current.v > entry.v) return;
  await kv.put(kvKey(hash), JSON.stringify(entry), { expirationTtl: kvTtl(entry) });
}

/**
 * Every state change overwrites both tiers with the new state, never just deletes them: a reader in
 * this isolate sees it at once, other locations within KV's propagation time.
 */
export async function overwriteTokenCache(kv: KVNamespace, hash: string, entry: CacheEntry, now: number): Promise<void> {
  memoryCache.set(hash, entry, memoryUntil(entry, now), { force: true });
  await kv.put(kvKey(hash), JSON.stringify(entry), { expirationTtl: kvTtl(entry) });
}
