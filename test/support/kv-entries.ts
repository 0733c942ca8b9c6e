import { env } from "cloudflare:workers";
import { KV_TOKEN_KEY_PREFIX } from "../../worker/limits";
import type { CacheEntry } from "../../worker/tokens/cached";
import { hashToken } from "../../worker/tokens/hash";

/** The KV key of a token's cache entry, as the worker names it (by hash, never by secret). */
export async function kvKeyOf(secret: string): Promise<string> {
  return KV_TOKEN_KEY_PREFIX + (await hashToken(env.TOKEN_PEPPER, secret));
}

export async function kvEntryOf(secret: string): Promise<CacheEntry | null> {
  return env.TOKEN_CACHE.get<CacheEntry>(await kvKeyOf(secret), "json");
}

/** Empties the KV tier for these tokens, so the next verification in a cold isolate reaches D1. */
export async function dropFromKv(...secrets: string[]): Promise<void> {
  for (const secret of secrets) await env.TOKEN_CACHE.delete(await kvKeyOf(secret));
}
