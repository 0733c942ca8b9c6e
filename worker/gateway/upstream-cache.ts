import { TieredCache } from "../cache/tiered";
import { KV_NEGATIVE_TTL_S, KV_UPSTREAM_FRESH_MS, KV_UPSTREAM_KEY_PREFIX, KV_UPSTREAM_TTL_S } from "../limits";
import { upstreamMemory } from "./registry";
import type { Upstream } from "./upstreams";

/**
 * What the cache tiers hold for an upstream name. `upstream: null` is a tombstone: the name was
 * deleted (or, in memory only, D1 knows no such name). `v` is the row's `updatedAt` (a tombstone's
 * is above the deleted row's), so a slow read cannot bury a newer change; `checkedAt` is when the
 * state was last taken from D1 or written by a change.
 */
export interface UpstreamEntry {
  v: number;
  upstream: Upstream | null;
  checkedAt: number;
}

/**
 * Upstreams by name in the tiered cache (worker/cache/tiered.ts). A name D1 does not know gets a
 * negative entry for the unknown-token TTL, as an unknown token does, so probing names costs D1
 * nothing for a while; a tombstone (version above 0) keeps the full TTL.
 */
export const upstreamCache = new TieredCache<UpstreamEntry>({
  what: "upstream",
  kvKeyPrefix: KV_UPSTREAM_KEY_PREFIX,
  memory: upstreamMemory,
  absent: (entry) => entry.upstream === null,
  tombstone: (entry, v) => ({ ...entry, upstream: null, v }),
  kvTtlS: (entry) => (entry.upstream || entry.v > 0 ? KV_UPSTREAM_TTL_S : KV_NEGATIVE_TTL_S),
  // Written before upstreams had signing secrets: read as missing, so D1's row (with its secret) replaces it.
  fromKv: (entry) => (entry.upstream && entry.upstream.signingSecret === undefined ? null : entry),
  // A free name can be taken later: a fill of "none" that raced a create is withdrawn.
  checkAbsent: true,
  answerNewerFromMemory: true,
});

export const upstreamKvKey = (name: string) => upstreamCache.kvKey(name);

export const isStale = (entry: UpstreamEntry, now: number) => now - entry.checkedAt >= KV_UPSTREAM_FRESH_MS;

/**
 * Every change overwrites both tiers with the new state, a deletion with a tombstone, never just
 * deleting them: a deleted upstream stops at once in this isolate and elsewhere within KV's
 * propagation time, and no location falls back to an older copy of it.
 */
export const overwriteUpstreamCache = (kv: KVNamespace, name: string, entry: UpstreamEntry, now: number) =>
  upstreamCache.overwrite(kv, name, entry, now);
