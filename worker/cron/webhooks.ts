import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import { attemptDelivery, claimDue, type DueEvent } from "../webhooks/outbox";
import type { RunBudget } from "./budget";
import type { CronJob, JobOutcome, JobRun } from "./job";
import { CRON_CHUNK_ROWS, CRON_MAX_ROWS_PER_JOB, WEBHOOK_CONCURRENCY } from "./schedule";

const MAX_ERRORS_KEPT = 20;

interface State {
  counts: { delivered: number; failed: number; gaveUp: number; deferred: number };
  errors: string[];
  /** Organizations whose receiver failed in this run: their other events wait for the next run. */
  failedOrgs: Set<string>;
}

/** Runs `work` over the items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** Hands claimed events back untried, due just after this run's instant (so this run does not claim them again): they cost no attempt. */
async function release(d1: D1, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await d1
    .prepare(
      `UPDATE webhook_outbox SET next_attempt_at = ?1, claimed_at = NULL WHERE id IN (${placeholders(ids.length, 2)})`,
    )
    .bind(now + 1, ...ids)
    .run();
}

async function deliverChunk(d1: D1, budget: RunBudget, due: DueEvent[], now: number, state: State): Promise<void> {
  const released: string[] = [];
  // Organizations in parallel, each one's events in order: a receiver never gets several at once,
  // and its first failure holds back the rest until the next run.
  await pool([...Map.groupBy(due, (e) => e.row.orgId).values()], WEBHOOK_CONCURRENCY, async (events) => {
    for (const { row, org } of events) {
      if (state.failedOrgs.has(row.orgId) || !budget.fits({ webhooks: 1, d1: 2 })) {
        state.counts.deferred++;
        released.push(row.id);
        continue;
      }
      budget.spend({ webhooks: 1, d1: 1 });
      const { row: after, result } = await attemptDelivery(d1, org, row, now);
      if (result.ok) {
        state.counts.delivered++;
        continue;
      }
      state.failedOrgs.add(row.orgId);
      state.counts[after.state === "failed" ? "gaveUp" : "failed"]++;
      if (state.errors.length < MAX_ERRORS_KEPT) state.errors.push(`${org.slug}: ${result.error}`);
    }
  });
  await release(d1, released, now);
  if (released.length > 0) budget.spend({ d1: 1 });
}

/**
 * Webhook events from the outbox: every due one sent, signed, and recorded; a failure retried by the
 * backoff (worker/webhooks/outbox.ts) until it is delivered or gives up. Claims make overlapping runs
 * and redeliveries safe; nothing is skipped by a cursor, the due index is the queue.
 */
export const webhooksJob: CronJob = {
  name: "webhooks",
  async run({ env, now, budget }: JobRun): Promise<JobOutcome> {
    const state: State = {
      counts: { delivered: 0, failed: 0, gaveUp: 0, deferred: 0 },
      errors: [],
      failedOrgs: new Set(),
    };
    let done = false;
    for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CRON_CHUNK_ROWS) {
      // Select and claim, a recorded attempt each, a release: the worst case of one chunk is at least one event.
      if (!budget.fits({ d1: 4, webhooks: 1 })) break;
      const due = await claimDue(env.d1, now, CRON_CHUNK_ROWS);
      budget.spend({ d1: due.length === 0 ? 1 : 2 });
      if (due.length === 0) {
        done = true;
        break;
      }
      await deliverChunk(env.d1, budget, due, now, state);
      if (due.length < CRON_CHUNK_ROWS) {
        done = true;
        break;
      }
    }
    return { done, counts: state.counts, errors: state.errors, cursor: null };
  },
};
