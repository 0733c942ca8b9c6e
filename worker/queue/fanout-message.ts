import { z } from "zod";
import { CACHE_FANOUT_TOKENS_PER_MESSAGE } from "../limits";

/**
 * One message of the cache fan-out queue: token hashes whose cache entries must be rewritten from D1.
 * Hashes, never secrets or ids: they are the KV keys, and the hot path's lookup reads by them. Nothing
 * else travels: the consumer reads the state from D1, so a message delivered twice, late or after a newer
 * change rewrites the same (current) state. Parsed, not trusted: a batch may hold messages an earlier
 * version of the worker sent.
 */
export const cacheFanoutMessage = z.object({
  hashes: z
    .array(z.string().regex(/^[0-9a-f]{64}$/))
    .min(1)
    .max(CACHE_FANOUT_TOKENS_PER_MESSAGE),
});

export type CacheFanoutMessage = z.infer<typeof cacheFanoutMessage>;

/** The bindings the fan-out uses, the queue typed with its message (`wrangler types` declares it untyped). */
export interface CacheFanoutEnv {
  DB: Env["DB"];
  TOKEN_CACHE: Env["TOKEN_CACHE"];
  CACHE_FANOUT: Queue<CacheFanoutMessage>;
}
