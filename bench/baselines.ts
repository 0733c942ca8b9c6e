import { KV_TOKEN_KEY_PREFIX, KV_TOKEN_TTL_S } from "../worker/limits";

// The floors the verify routes are measured against: one KV read of a token's cache entry, and one
// D1 read of a token row by primary key, each with nothing else around it.

export async function readBaselineKv(kv: KVNamespace, hash: string): Promise<unknown> {
  return kv.get(KV_TOKEN_KEY_PREFIX + hash, "json");
}

export async function readBaselineD1(db: D1Database, id: string): Promise<unknown> {
  return db.prepare("SELECT * FROM tokens WHERE id = ?1").bind(id).first();
}

/** Where the miss floor's cache writes go, apart from the token entries the verify routes read. */
const FLOOR_KEY_PREFIX = "bench-floor:";

/**
 * The least work any full miss under SPEC.md 3 does: the KV tier is read before D1 (and misses),
 * D1 is read, and the answer is written to KV for the next reader, off the response path. No HMAC,
 * no checks, no version guard. The verify miss is measured against it to show what Tessera adds to
 * the tiers; it against the bare D1 get shows what the tiers cost before Tessera does anything.
 */
export async function readMissFloor(kv: KVNamespace, db: D1Database, hash: string, id: string, waitUntil: (p: Promise<unknown>) => void): Promise<unknown> {
  const cached = await kv.get(KV_TOKEN_KEY_PREFIX + hash, "json");
  if (cached !== null) return cached;
  const row = await readBaselineD1(db, id);
  waitUntil(kv.put(FLOOR_KEY_PREFIX + hash, JSON.stringify(row), { expirationTtl: KV_TOKEN_TTL_S }));
  return row;
}
