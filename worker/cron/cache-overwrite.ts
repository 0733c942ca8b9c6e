import { overwriteTokenCache, readKvEntries } from "../tokens/cache";
import type { CachedToken } from "../tokens/cached";

export interface ChangedToken {
  hash: string;
  /** The token's version after the change (for a deleted token: one past its last). */
  version: number;
  /** The state every tier should now answer, from the entry that is cached. */
  patch: (cached: CachedToken) => CachedToken;
}

/**
 * Overwrites the cache entries of tokens the cron just changed in D1 (and kept: deleted tokens go through
 * `deleteBehindTombstones`, which writes before the delete), with a newer version.
 * Only entries that exist are written: one bulk read finds them (one KV operation for up to 100 keys),
 * so expiring thousands of idle tokens costs a few KV operations, not one write each, and creates no
 * entries nobody reads. A verify fill racing with the change checks the D1 version after its own put
 * (`fillKvEntry`) and withdraws it, so an entry missed by the read cannot outlive the change.
 * Answers how many entries were written; the caller charges `1 + written` KV operations.
 */
export async function overwriteCachedEntries(kv: KVNamespace, changed: ChangedToken[], now: number): Promise<number> {
  if (changed.length === 0) return 0;
  const cached = await readKvEntries(
    kv,
    changed.map((c) => c.hash),
  );
  const writes = changed.flatMap((c) => {
    const entry = cached.get(c.hash);
    if (!entry?.token || entry.v >= c.version) return [];
    return [overwriteTokenCache(kv, c.hash, { v: c.version, token: c.patch(entry.token) }, now)];
  });
  await Promise.all(writes);
  return writes.length;
}
