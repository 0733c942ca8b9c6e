import { TieredCache } from "../cache/tiered";
import { KV_NEGATIVE_TTL_S, KV_TOKEN_KEY_PREFIX, KV_TOKEN_TTL_S } from "../limits";
import type { CacheEntry } from "./cached";
import { memoryCache } from "./memory-cache";

/** Token entries by hash in the tiered cache: memory, KV, D1 (worker/cache/tiered.ts). */
export const tokenCache = new TieredCache<CacheEntry>({
  what: "token",
  kvKeyPrefix: KV_TOKEN_KEY_PREFIX,
  memory: memoryCache,
  absent: (entry) => entry.token === null,
  tombstone: (_, v) => ({ v, token: null }),
  kvTtlS: (entry) => (entry.token ? KV_TOKEN_TTL_S : KV_NEGATIVE_TTL_S),
  // Written before entries held only the token's own grant (they carried the organization's project keys
  // and no personal ceiling): read as missing, so D1's row replaces it in the new shape.
  fromKv: (entry) => (entry.token && "scopeKeys" in entry.token ? null : entry),
  // A hash that names no token cannot come to name one later.
  checkAbsent: false,
  answerNewerFromMemory: false,
});

const kvKey = (hash: string) => tokenCache.kvKey(hash);

export const readKvEntry = (kv: KVNamespace, hash: string): Promise<CacheEntry | null> => tokenCache.readKv(kv, hash);

/** Every state change overwrites both tiers with the new state, never just deletes them (`TieredCache.overwrite`). */
export const overwriteTokenCache = (kv: KVNamespace, hash: string, entry: CacheEntry, now: number): Promise<void> =>
  tokenCache.overwrite(kv, hash, entry, now);

/** Both tiers forget the entry: the next reader anywhere goes to D1. For when no entry can be trusted. */
export const dropTokenCache = (kv: KVNamespace, hash: string): Promise<void> => tokenCache.drop(kv, hash);

/** Several entries in one KV operation (KV reads up to 100 keys at once): the cron's way to find what is cached. */
export async function readKvEntries(kv: KVNamespace, hashes: string[]): Promise<Map<string, CacheEntry | null>> {
  if (hashes.length === 0) return new Map();
  const found = await kv.get<CacheEntry>(hashes.map(kvKey), "json");
  return new Map(hashes.map((h) => [h, found.get(kvKey(h)) ?? null]));
}

/**
 * Like `readKvEntries`, but each entry is parsed on its own: one that is there and does not read as an
 * entry comes back as "unreadable" instead of failing the whole read. A caller that rewrites only what
 * exists can then tell "there, unreadable" (must be overwritten) from "not there". A failed read throws.
 */
export async function peekKvEntries(
  kv: KVNamespace,
  hashes: string[],
): Promise<Map<string, CacheEntry | "unreadable" | null>> {
  if (hashes.length === 0) return new Map();
  const found = await kv.get(hashes.map(kvKey), "text");
  return new Map(hashes.map((h) => [h, parseKvEntry(found.get(kvKey(h)) ?? null)]));
}

function parseKvEntry(text: string | null): CacheEntry | "unreadable" | null {
  if (text === null) return null;
  try {
    const entry = JSON.parse(text) as Partial<CacheEntry> | null;
    return typeof entry?.v === "number" && typeof entry.token === "object" ? (entry as CacheEntry) : "unreadable";
  } catch {
    return "unreadable";
  }
}
