import { KV_NEGATIVE_TTL_S, KV_UPSTREAM_FRESH_MS, KV_UPSTREAM_KEY_PREFIX, KV_UPSTREAM_TTL_S } from "../limits";
import { forgetUpstream, overwriteRememberedUpstream } from "./registry";
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

export const upstreamKvKey = (name: string) => KV_UPSTREAM_KEY_PREFIX + name;

export const isStale = (entry: UpstreamEntry, now: number) => now - entry.checkedAt >= KV_UPSTREAM_FRESH_MS;

export async function readUpstreamEntry(kv: KVNamespace, name: string): Promise<UpstreamEntry | null> {
  const entry = await kv.get<UpstreamEntry>(upstreamKvKey(name), "json");
  // Written before upstreams had signing secrets: read as missing, so D1's row (with its secret) replaces it.
  if (entry?.upstream && entry.upstream.signingSecret === undefined) return null;
  return entry;
}

const putEntry = (kv: KVNamespace, name: string, entry: UpstreamEntry, ttlS = KV_UPSTREAM_TTL_S) =>
  kv.put(upstreamKvKey(name), JSON.stringify(entry), { expirationTtl: ttlS });

/**
 * Every change overwrites both tiers with the new state, a deletion with a tombstone, never just
 * deleting them: a deleted upstream stops at once in this isolate and elsewhere within KV's
 * propagation time, and no location falls back to an older copy of it.
 */
export async function overwriteUpstreamCache(
  kv: KVNamespace,
  name: string,
  entry: UpstreamEntry,
  now: number,
): Promise<void> {
  overwriteRememberedUpstream(name, entry, now);
  await putEntry(kv, name, entry);
}

/**
 * Writes what a D1 read found to KV. As for tokens (`fillKvEntry`): KV has no compare-and-set, so a
 * newer entry already there wins, and after the put D1 is asked again: a moved version means a
 * change may have landed between the two and been buried, so the entry is dropped and the next
 * reader goes to D1. A name D1 does not know gets a negative entry for the unknown-token TTL, as an
 * unknown token does, so probing names costs D1 nothing for a while; when KV still holds a
 * configuration for it (a deletion whose tombstone never reached KV), the tombstone is written now.
 */
export async function fillUpstreamEntry(
  kv: KVNamespace,
  name: string,
  found: UpstreamEntry,
  currentVersion: () => Promise<number | null>,
): Promise<void> {
  const current = await readUpstreamEntry(kv, name);
  let entry = found;
  let ttlS = KV_UPSTREAM_TTL_S;
  if (found.upstream === null) {
    // A tombstone (version above 0) keeps the full TTL; a name that never had an upstream, the unknown-token one.
    if (current?.upstream) entry = { ...found, v: current.v + 1 };
    else if (current && current.v > 0) entry = { ...found, v: current.v };
    else ttlS = KV_NEGATIVE_TTL_S;
  } else if (current && current.v > found.v) {
    return;
  }
  await putEntry(kv, name, entry, ttlS);
  if ((await currentVersion()) === (entry.upstream ? entry.v : null)) return;
  forgetUpstream(name, entry.v);
  await kv.delete(upstreamKvKey(name));
}
