import { replicaRead } from "../worker/db/session";
import { KV_TOKEN_KEY_PREFIX, KV_TOKEN_TTL_S } from "../worker/limits";
import { lookupTokenByHash } from "../worker/tokens/lookup";

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
 * The least work any full miss under docs/DESIGN.md 3.1 does: the KV tier is read before D1 (and misses),
 * D1 is read, and the answer is written to KV for the next reader, off the response path. No HMAC,
 * no checks, no version guard. The verify miss is measured against it to show what Tessera adds to
 * the tiers; it against the bare D1 get shows what the tiers cost before Tessera does anything.
 */
export async function readMissFloor(
  kv: KVNamespace,
  db: D1Database,
  hash: string,
  id: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<unknown> {
  const cached = await kv.get(KV_TOKEN_KEY_PREFIX + hash, "json");
  if (cached !== null) return cached;
  const row = await readBaselineD1(db, id);
  waitUntil(kv.put(FLOOR_KEY_PREFIX + hash, JSON.stringify(row), { expirationTtl: KV_TOKEN_TTL_S }));
  return row;
}

/**
 * The miss path's reads and nothing else: the same KV get (sent with `X-Bench-Cold: kv`, so it misses)
 * and the same D1 lookup as verify's miss, answered at once. At light load, verify's miss answer is
 * measured against it: what the miss adds on the response path beyond its two reads (HMAC, checks,
 * the answer's shape), with the fill left to `waitUntil` as in production.
 */
export async function readMissReads(kv: KVNamespace, db: D1Database, hash: string): Promise<unknown> {
  const cached = await kv.get(KV_TOKEN_KEY_PREFIX + hash, "json");
  return cached ?? lookupTokenByHash(replicaRead(db), hash);
}
