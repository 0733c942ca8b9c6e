import {
  KV_NEGATIVE_TTL_S,
  KV_TOKEN_KEY_PREFIX,
  KV_TOKEN_TTL_S,
  MEMORY_CACHE_TTL_MS,
  MEMORY_NEGATIVE_TTL_MS,
} from "../limits";
import type { CacheEntry } from "./cached";
import { memoryCache } from "./memory-cache";

const kvKey = (hash: string) => KV_TOKEN_KEY_PREFIX + hash;
const kvTtl = (entry: CacheEntry) => (entry.token ? KV_TOKEN_TTL_S : KV_NEGATIVE_TTL_S);
const memoryUntil = (entry: CacheEntry, now: number) =>
  now + (entry.token ? MEMORY_CACHE_TTL_MS : MEMORY_NEGATIVE_TTL_MS);

export function rememberInMemory(hash: string, entry: CacheEntry, now: number): void {
  memoryCache.set(hash, entry, memoryUntil(entry, now));
}

export async function readKvEntry(kv: KVNamespace, hash: string): Promise<CacheEntry | null> {
  return kv.get<CacheEntry>(kvKey(hash), "json");
}

/**
 * Cache fill after a D1 read. KV has no compare-and-set, so it re-reads first: an entry with a newer
 * version means a state change landed while the read was in flight, and the older answer is dropped.
 *
 * The re-read alone still leaves a window: a state change whose put lands between that read and this
 * put is buried under the older entry for the whole KV TTL (a revoked token verifying as valid). D1 is
 * ordered, so `currentVersion` (the token's version in D1 now) closes it: asked after the put, a moved
 * version means the put may have buried a change, and the entry is deleted so the next reader goes to
 * D1. Any state change committed after that check writes its own entry after this put, so it wins.
 * Unknown-token entries skip the check: a hash that names no token cannot come to name one later.
 */
export async function fillKvEntry(
  kv: KVNamespace,
  hash: string,
  entry: CacheEntry,
  currentVersion?: () => Promise<number | null>,
): Promise<void> {
  // Callers run the fill in `waitUntil`: it starts once the answer has been handed back, so its first
  // KV read is not sent ahead of the answer. Measured at light load, that read made a miss answer twice
  // as slow as its own two reads (bench/README.md). The later start only moves the re-read later, which
  // sees more changes, not fewer. (`scheduler.wait`, unlike `setTimeout`, is not faked by the tests'
  // timers.)
  await scheduler.wait(0);
  const current = await readKvEntry(kv, hash);
  if (current && current.v > entry.v) return;
  await kv.put(kvKey(hash), JSON.stringify(entry), { expirationTtl: kvTtl(entry) });
  if (!entry.token || !currentVersion) return;
  if ((await currentVersion()) === entry.v) return;
  memoryCache.forget(hash, entry.v);
  await kv.delete(kvKey(hash));
}

/**
 * Every state change overwrites both tiers with the new state, never just deletes them: a reader in
 * this isolate sees it at once, other locations within KV's propagation time.
 */
export async function overwriteTokenCache(
  kv: KVNamespace,
  hash: string,
  entry: CacheEntry,
  now: number,
): Promise<void> {
  memoryCache.set(hash, entry, memoryUntil(entry, now), { force: true });
  await kv.put(kvKey(hash), JSON.stringify(entry), { expirationTtl: kvTtl(entry) });
}

/** Both tiers forget the entry: the next reader anywhere goes to D1. For when no entry can be trusted. */
export async function dropTokenCache(kv: KVNamespace, hash: string): Promise<void> {
  memoryCache.forget(hash, Number.MAX_SAFE_INTEGER);
  await kv.delete(kvKey(hash));
}

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
