import { KV_TOKEN_KEY_PREFIX } from "../worker/limits";

// The floors the verify routes are measured against: one KV read of a token's cache entry, and one
// D1 read of a token row by primary key, each with nothing else around it.

export async function readBaselineKv(kv: KVNamespace, hash: string): Promise<unknown> {
  return kv.get(KV_TOKEN_KEY_PREFIX + hash, "json");
}

export async function readBaselineD1(db: D1Database, id: string): Promise<unknown> {
  return db.prepare("SELECT * FROM tokens WHERE id = ?1").bind(id).first();
}
