import { and, eq, inArray } from "drizzle-orm";
import { auditInsert, SYSTEM_ACTOR } from "../audit/events";
import { batch, type Statement } from "../db/batch";
import { database } from "../db/client";
import { type TokenKind, tokens } from "../db/schema";
import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import type { WebhookDelivery } from "../webhooks/deliver";
import { deliverNotice } from "../webhooks/outbox";
import type { RunBudget } from "./budget";
import type { CronJob, JobOutcome, JobRun } from "./job";
import { type Keyset, parseKeyset, readCursor, SCAN_START } from "./keyset";
import {
  CRON_CHUNK_ROWS,
  CRON_MAX_BATCH_STATEMENTS,
  CRON_MAX_ROWS_PER_JOB,
  NOTICE_CLAIM_TIMEOUT_MS,
  NOTICE_THRESHOLDS,
  type NoticeThreshold,
  WEBHOOK_CONCURRENCY,
} from "./schedule";

export const EXPIRY_NOTICE_EVENT = "token.expiring";

/*
 * Each threshold has its flag column, used as a claim so that no notice is ever sent twice:
 *   NULL          not sent;
 *   negative -t   claimed at t by a run that is sending it (a claim older than the timeout belonged
 *                 to a run that died, and may be taken again);
 *   positive t    sent at t.
 * A run claims a chunk with one conditional UPDATE before sending, marks what was delivered as sent,
 * and releases what failed, which the next run retries.
 */
const COLUMN = { "7d": "notified_7d_at", "1d": "notified_1d_at" } as const satisfies Record<NoticeThreshold, string>;
const FIELD = { "7d": tokens.notified7dAt, "1d": tokens.notified1dAt } as const;
const flag = (threshold: NoticeThreshold, value: number | null) =>
  threshold === "7d" ? { notified7dAt: value } : { notified1dAt: value };

// Finalizing a chunk is one batch: an audit event per delivered notice and two updates.
const CHUNK_ROWS = Math.min(CRON_CHUNK_ROWS, CRON_MAX_BATCH_STATEMENTS - 2);
const MAX_ERRORS_KEPT = 20;

interface Window {
  threshold: NoticeThreshold;
  /** Notices of this threshold cover tokens expiring in (after, until]. */
  after: number;
  until: number;
}

/** Disjoint windows: a token already within a day of expiry gets the 1-day notice only, not a late 7-day one. */
function windows(now: number): Window[] {
  const sorted = [...NOTICE_THRESHOLDS].sort((a, b) => a.beforeMs - b.beforeMs);
  return sorted.map((t, i) => ({
    threshold: t.name,
    after: now + (i === 0 ? 0 : sorted[i - 1]!.beforeMs),
    until: now + t.beforeMs,
  }));
}

interface DueNotice {
  id: string;
  name: string;
  kind: TokenKind;
  expires_at: number;
  org_id: string;
  org_slug: string;
  group_slug: string | null;
  user_id: string | null;
  webhook_url: string;
  webhook_secret: string;
}

// ?1 after, ?2 until, ?3 minus the oldest claim time still honoured. The scan walks `tokens_expires`;
// the claim names its ids and must use the primary key (see ./sql.ts).
function dueWhere(column: string, scan: boolean): string {
  const range = scan ? "t." : "+";
  const t = scan ? "t." : "";
  return `${range}expires_at > ?1 AND ${range}expires_at <= ?2 AND +${t}revoked_at IS NULL
   AND (+${t}${column} IS NULL OR (+${t}${column} < 0 AND +${t}${column} >= ?3))`;
}

async function selectDue(d1: D1, w: Window, staleClaim: number, from: Keyset): Promise<DueNotice[]> {
  const { results } = await d1
    .prepare(
      `SELECT t.id, t.name, t.kind, t.expires_at, t.org_id, o.slug AS org_slug, g.slug AS group_slug, t.user_id, o.webhook_url, o.webhook_secret
       FROM tokens t JOIN organizations o ON o.id = t.org_id LEFT JOIN groups g ON g.id = t.group_id
       WHERE ${dueWhere(COLUMN[w.threshold], true)}
         AND o.webhook_url IS NOT NULL AND o.webhook_secret IS NOT NULL AND (t.expires_at, t.id) > (?4, ?5)
       ORDER BY t.expires_at, t.id LIMIT ?6`,
    )
    .bind(w.after, w.until, staleClaim, from.at, from.id, CHUNK_ROWS)
    .all<DueNotice>();
  return results;
}

/** Claims the chunk; answers the ids this run now owns (another run may have taken some). */
async function claim(d1: D1, w: Window, staleClaim: number, ids: string[], marker: number): Promise<Set<string>> {
  const column = COLUMN[w.threshold];
  const { results } = await d1
    .prepare(
      `UPDATE tokens SET ${column} = ?4 WHERE id IN (${placeholders(ids.length, 5)}) AND ${dueWhere(column, false)} RETURNING id`,
    )
    .bind(w.after, w.until, staleClaim, marker, ...ids)
    .all<{ id: string }>();
  return new Set(results.map((r) => r.id));
}

/** Runs `work` over the items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** The notice's webhook id: one event per token and threshold, so every retry of it carries the same id. */
const noticeId = (t: DueNotice, threshold: NoticeThreshold) => `msg_notice_${threshold}_${t.id}`;

function noticePayload(t: DueNotice, threshold: NoticeThreshold) {
  return {
    threshold,
    expiresAt: new Date(t.expires_at).toISOString(),
    // The person behind a personal token, so the receiver can tell them: Tessera sends no email.
    token: {
      id: t.id,
      name: t.name,
      kind: t.kind,
      group: t.group_slug,
      user: t.user_id === null ? null : { id: t.user_id },
    },
  };
}

interface PassState {
  counts: { sent: number; failed: number; deferred: number };
  errors: string[];
  /** Organizations whose receiver failed in this run: their other notices wait for the next run. */
  failedOrgs: Set<string>;
}

/** One chunk: claim, deliver, then mark sent (with an audit event each) or release. */
async function processChunk(
  d1: D1,
  budget: RunBudget,
  w: Window,
  due: DueNotice[],
  now: number,
  state: PassState,
): Promise<void> {
  const staleClaim = -(now - NOTICE_CLAIM_TIMEOUT_MS);
  const marker = -now;
  const owned = await claim(
    d1,
    w,
    staleClaim,
    due.map((t) => t.id),
    marker,
  );
  budget.spend({ d1: 1 });

  const delivered: { t: DueNotice; result: WebhookDelivery & { ok: true } }[] = [];
  const released: string[] = [];
  const byOrg = Map.groupBy(
    due.filter((t) => owned.has(t.id)),
    (t) => t.org_id,
  );
  // Organizations in parallel, each one's notices in turn: a receiver is never hit by several at once,
  // and its first failure holds back its other notices until the next run.
  await pool([...byOrg.values()], WEBHOOK_CONCURRENCY, async (notices) => {
    for (const t of notices) {
      if (state.failedOrgs.has(t.org_id) || !budget.fits({ webhooks: 1, d1: 3 })) {
        state.counts.deferred++;
        released.push(t.id);
        continue;
      }
      // Through the outbox: queued once under its stable id, each attempt in the delivery log (2 queries).
      budget.spend({ webhooks: 1, d1: 2 });
      const result = await deliverNotice(
        d1,
        { orgId: t.org_id, slug: t.org_slug, webhookUrl: t.webhook_url, webhookSecret: t.webhook_secret },
        { id: noticeId(t, w.threshold), type: EXPIRY_NOTICE_EVENT, data: noticePayload(t, w.threshold) },
        now,
      );
      if (result.ok) {
        delivered.push({ t, result });
        continue;
      }
      state.counts.failed++;
      state.failedOrgs.add(t.org_id);
      released.push(t.id);
      if (state.errors.length < MAX_ERRORS_KEPT) state.errors.push(`${t.org_slug}: ${result.error}`);
    }
  });

  const db = database(d1);
  const field = FIELD[w.threshold];
  const statements: Statement[] = delivered.map(({ t, result }) =>
    auditInsert(
      db,
      SYSTEM_ACTOR,
      {
        orgId: t.org_id,
        action: "token.expiry_notice",
        targetType: "token",
        targetId: t.id,
        detail: {
          name: t.name,
          threshold: w.threshold,
          expiresAt: t.expires_at,
          deliveryId: result.deliveryId,
          status: result.status,
        },
      },
      now,
    ),
  );
  if (delivered.length > 0) {
    const ids = delivered.map((d) => d.t.id);
    statements.push(
      db
        .update(tokens)
        .set(flag(w.threshold, now))
        .where(and(inArray(tokens.id, ids), eq(field, marker))),
    );
  }
  if (released.length > 0) {
    statements.push(
      db
        .update(tokens)
        .set(flag(w.threshold, null))
        .where(and(inArray(tokens.id, released), eq(field, marker))),
    );
  }
  if (statements.length > 0) {
    await batch(db, statements);
    budget.spend({ d1: 1 });
  }
  state.counts.sent += delivered.length;
}

/** One threshold's window, from the cursor to the end or until the budget stops it. Answers where it stopped, null at the end. */
async function pass(
  d1: D1,
  budget: RunBudget,
  w: Window,
  from: Keyset | null,
  now: number,
  state: PassState,
): Promise<Keyset | null> {
  let position = from ?? SCAN_START;
  const staleClaim = -(now - NOTICE_CLAIM_TIMEOUT_MS);
  // Worst case per chunk: select, claim, finalize; and at least one delivery.
  for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CHUNK_ROWS) {
    if (!budget.fits({ d1: 3, webhooks: 1 })) return position;
    const due = await selectDue(d1, w, staleClaim, position);
    budget.spend({ d1: 1 });
    if (due.length === 0) return null;
    await processChunk(d1, budget, w, due, now, state);
    const last = due[due.length - 1]!;
    position = { at: last.expires_at, id: last.id };
    if (due.length < CHUNK_ROWS) return null;
  }
  return position;
}

/** Expiry notices by webhook, 7 days and 1 day before expiry, once per token and threshold. */
export const noticesJob: CronJob = {
  name: "notices",
  async run({ env, now, budget, cursor }: JobRun): Promise<JobOutcome> {
    const stored = (readCursor(cursor) ?? {}) as Record<string, unknown>;
    const state: PassState = { counts: { sent: 0, failed: 0, deferred: 0 }, errors: [], failedOrgs: new Set() };
    const next: Record<string, Keyset | null> = {};
    for (const w of windows(now)) {
      next[w.threshold] = await pass(env.d1, budget, w, parseKeyset(stored[w.threshold]), now, state);
    }
    const done = Object.values(next).every((k) => k === null);
    return { done, counts: state.counts, errors: state.errors, cursor: JSON.stringify(next) };
  },
};
