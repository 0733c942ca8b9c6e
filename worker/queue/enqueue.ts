import { chunk } from "../db/slices";
import { CACHE_FANOUT_MESSAGES_PER_SEND, CACHE_FANOUT_QUEUE, CACHE_FANOUT_TOKENS_PER_MESSAGE } from "../limits";
import { log } from "../observability/log";
import { dropTokenCache } from "../tokens/cache";
import { errorKind } from "../util/error-kind";
import type { CacheFanoutEnv } from "./fanout-message";

export interface FanoutReport {
  /** Hashes put on the queue: the consumer rewrites their entries from D1 (worker/queue/consume.ts). */
  queued: number;
  /** Hashes the queue refused whose entries were deleted instead: their next reader goes to D1. */
  dropped: number;
  /** Hashes the queue refused whose entries could not be deleted either: they can say "valid" until they expire. */
  failed: number;
}

/**
 * Hands the cache entries a committed change could not rewrite inline to the fan-out queue, 100 hashes a
 * message. The change is in D1 already, so a refused send fails closed: the entries of that send are
 * deleted from both tiers (an absent entry makes the next reader ask D1, which knows), never left valid.
 * Only what can neither be queued nor deleted is left to expire: counted in `failed`, which the callers
 * report (and log as `cache.left_to_expire`); every refused send is logged as `queue.send_failed`.
 */
export async function enqueueCacheRefresh(env: CacheFanoutEnv, hashes: string[]): Promise<FanoutReport> {
  const report: FanoutReport = { queued: 0, dropped: 0, failed: 0 };
  const messages = chunk([...new Set(hashes)], CACHE_FANOUT_TOKENS_PER_MESSAGE);
  for (const send of chunk(messages, CACHE_FANOUT_MESSAGES_PER_SEND)) {
    const sendHashes = send.flat();
    try {
      await env.CACHE_FANOUT.sendBatch(send.map((slice) => ({ body: { hashes: slice } })));
      report.queued += sendHashes.length;
    } catch (err) {
      const drops = await Promise.allSettled(sendHashes.map((hash) => dropTokenCache(env.TOKEN_CACHE, hash)));
      const dropped = drops.filter((d) => d.status === "fulfilled").length;
      report.dropped += dropped;
      report.failed += sendHashes.length - dropped;
      log.error("queue.send_failed", {
        queue: CACHE_FANOUT_QUEUE,
        tokens: sendHashes.length,
        dropped,
        left: sendHashes.length - dropped,
        error: errorKind(err),
      });
    }
  }
  return report;
}
