import { systemClock } from "../clock";
import {
  CACHE_FANOUT_DLQ,
  CACHE_FANOUT_MAX_RETRIES,
  CACHE_FANOUT_QUEUE,
  CACHE_FANOUT_RETRY_BASE_S,
  CACHE_FANOUT_RETRY_MAX_S,
} from "../limits";
import { log } from "../observability/log";
import { dropTokenCache } from "../tokens/cache";
import { refreshEntries } from "../tokens/structure-refresh";
import { errorKind } from "../util/error-kind";
import { type CacheFanoutMessage, cacheFanoutMessage } from "./fanout-message";

/*
 * The consumer of the cache fan-out (docs/DESIGN.md §3.1). Each message names up to 100 token hashes; their
 * entries are rewritten from D1 with the rules of the inline refresh (`refreshEntries`: the hot path's
 * lookup, the puts, a version re-check, an entry a racing change overtook withdrawn), so a message is
 * idempotent: delivered twice or late, it writes the state D1 holds then. A message that cannot be done in
 * full (D1 or KV failing) is retried with a growing delay and nothing is lost; one that fails every retry
 * goes to the dead-letter queue, whose consumer deletes the entries instead, so their readers go to D1.
 */

export type CacheFanoutConsumerEnv = Pick<Env, "DB" | "TOKEN_CACHE">;

/** What one batch did: its `queue.batch` log line, and what the tests read. */
export interface FanoutBatchReport {
  queue: string;
  messages: number;
  /** Messages done in full and acknowledged. */
  acked: number;
  /** Messages handed back for a later delivery. */
  retried: number;
  /**
   * Retried messages on their last delivery: from the fan-out queue they go to the dead-letter queue; from
   * the dead-letter queue, which has none of its own, they are gone and their entries expire within the TTL.
   */
  exhausted: number;
  /** Messages that do not parse: acknowledged, since no delivery will ever make them readable. */
  rejected: number;
  /** The kind of the first error a message's work threw, if any (worker/util/error-kind.ts). */
  error?: string;
}

/** 2, 4, 8 … seconds by delivery, capped. `attempts` counts deliveries, this one included. */
export const retryDelayS = (attempts: number) =>
  Math.min(CACHE_FANOUT_RETRY_BASE_S * 2 ** Math.max(0, attempts - 1), CACHE_FANOUT_RETRY_MAX_S);

/** Rewrites the message's entries; true when every one was rewritten (or withdrawn after a race). */
async function refresh(env: CacheFanoutConsumerEnv, body: CacheFanoutMessage, now: number): Promise<boolean> {
  const { unwritten } = await refreshEntries(env, body.hashes, now);
  return unwritten.length === 0;
}

/** Deletes the message's entries from both tiers: always safe, D1 holds the truth. */
async function drop(env: CacheFanoutConsumerEnv, body: CacheFanoutMessage): Promise<boolean> {
  const drops = await Promise.allSettled(body.hashes.map((hash) => dropTokenCache(env.TOKEN_CACHE, hash)));
  return drops.every((d) => d.status === "fulfilled");
}

async function settle(
  batch: MessageBatch<unknown>,
  work: (body: CacheFanoutMessage) => Promise<boolean>,
): Promise<FanoutBatchReport> {
  const report: FanoutBatchReport = {
    queue: batch.queue,
    messages: batch.messages.length,
    acked: 0,
    retried: 0,
    exhausted: 0,
    rejected: 0,
  };
  for (const message of batch.messages) {
    const parsed = cacheFanoutMessage.safeParse(message.body);
    if (!parsed.success) {
      report.rejected++;
      message.ack();
      continue;
    }
    let done = false;
    try {
      done = await work(parsed.data);
    } catch (err) {
      report.error ??= errorKind(err);
    }
    if (done) {
      report.acked++;
      message.ack();
    } else {
      report.retried++;
      // `max_retries` retries after the first delivery: this delivery was the last.
      if (message.attempts > CACHE_FANOUT_MAX_RETRIES) report.exhausted++;
      message.retry({ delaySeconds: retryDelayS(message.attempts) });
    }
  }
  return report;
}

/**
 * The worker's `queue()` handler: the fan-out queue and its dead-letter queue. One `queue.batch` line per
 * batch: info when all is done, warn when messages are retried, error when any is dead-lettered, lost or
 * unreadable.
 */
export async function consumeCacheFanout(
  batch: MessageBatch<unknown>,
  env: CacheFanoutConsumerEnv,
): Promise<FanoutBatchReport> {
  const started = Date.now();
  let report: FanoutBatchReport;
  if (batch.queue === CACHE_FANOUT_QUEUE) report = await settle(batch, (body) => refresh(env, body, systemClock()));
  else if (batch.queue === CACHE_FANOUT_DLQ) report = await settle(batch, (body) => drop(env, body));
  else {
    // Not a queue of this worker's: its messages are left to that queue's retries and dead-letter queue.
    batch.retryAll({ delaySeconds: CACHE_FANOUT_RETRY_MAX_S });
    report = {
      queue: batch.queue,
      messages: batch.messages.length,
      acked: 0,
      retried: batch.messages.length,
      exhausted: 0,
      rejected: 0,
      error: "UnknownQueue",
    };
  }
  const fields = { ...report, durationMs: Date.now() - started };
  if (report.exhausted > 0 || report.rejected > 0 || report.error === "UnknownQueue") log.error("queue.batch", fields);
  else if (report.retried > 0) log.warn("queue.batch", fields);
  else log.info("queue.batch", fields);
  return report;
}

/** Exported from worker/index.ts as the worker's `queue()` handler. */
export const handleQueue: ExportedHandlerQueueHandler<Env> = async (batch, env) => {
  await consumeCacheFanout(batch, env);
};
