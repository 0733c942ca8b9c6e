import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { type AuditAction, auditInsert, SYSTEM_ACTOR } from "../audit/events";
import { batch, type Statement } from "../db/batch";
import { database } from "../db/client";
import { type TokenKind, tokens } from "../db/schema";
import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import type { WebhookDelivery } from "../webhooks/deliver";
import { deliverNotice } from "../webhooks/outbox";
import type { RunBudget } from "./budget";
import { CRON_CHUNK_ROWS, CRON_MAX_BATCH_STATEMENTS, NOTICE_CLAIM_TIMEOUT_MS, WEBHOOK_CONCURRENCY } from "./schedule";

/*
 * How the notices job sends what it owes, one token at a time, at most once each: expiry notices
 * (./notices.ts) and purge warnings (./purge-warnings.ts). A chunk is claimed with one conditional UPDATE
 * of `notice_claim_at` (the claim of a run that died, older than the timeout, may be taken again), each
 * organization's notices are delivered in turn (organizations in parallel), then one batch records what
 * was delivered (an audit event each, and the token's own "sent" mark) and releases what failed, which
 * the next run retries with the same webhook id.
 */

/** Finalizing a chunk is one batch: an audit event per delivered notice and two updates. */
export const NOTICE_CHUNK_ROWS = Math.min(CRON_CHUNK_ROWS, CRON_MAX_BATCH_STATEMENTS - 2);
const MAX_ERRORS_KEPT = 20;

/** A token a notice is due for, with where its organization's webhook goes. */
export interface DueToken {
  id: string;
  name: string;
  kind: TokenKind;
  org_id: string;
  org_slug: string;
  group_slug: string | null;
  user_id: string | null;
  webhook_url: string;
  webhook_secret: string;
  /** What this notice is for (a lead time in days, an idle period's start): its id and its "sent" mark. */
  mark: number;
}

/** One kind of notice. Its SQL is written for statements on an id list (`+column`, see ./job.ts). */
export interface NoticeSpec {
  type: string;
  audit: AuditAction;
  /**
   * Still due, re-checked by the claim: `?1` now, `?2` the JSON map of id to mark (read as `MARK`), ids from ?5.
   */
  dueById: string;
  /** The column a delivered notice sets to its mark. */
  sentColumn: "notifiedDays" | "purgeWarnedFor";
  messageId(t: DueToken): string;
  data(t: DueToken): Record<string, unknown>;
  detail(t: DueToken, delivery: WebhookDelivery & { ok: true }): Record<string, unknown>;
}

export interface NoticeState {
  counts: Record<string, number>;
  errors: string[];
  /** Organizations whose receiver failed in this run: their other notices wait for the next run. */
  failedOrgs: Set<string>;
}

const MARK = `json_extract(?2, '$."' || id || '"')`;

/** Runs `work` over the items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** The token as a notice names it: the person behind a personal token, so the receiver can tell them. */
export const tokenRef = (t: DueToken) => ({
  id: t.id,
  name: t.name,
  kind: t.kind,
  group: t.group_slug,
  user: t.user_id === null ? null : { id: t.user_id },
});

/**
 * One chunk: claim, deliver, then mark sent (with an audit event each) or release. Counts under `sent`,
 * `failed`, `deferred`. Answers whether the run's webhook budget left notices of this chunk unsent: the
 * caller's scan then stays before the chunk, so the next run comes back to them. (A failing receiver's
 * notices are released without stopping the scan: they wait for the next pass, and other organizations
 * do not wait for them.)
 */
export async function sendNoticeChunk(
  d1: D1,
  budget: RunBudget,
  spec: NoticeSpec,
  due: DueToken[],
  now: number,
  state: NoticeState,
  count: { sent: string; failed: string; deferred: string },
): Promise<boolean> {
  const marks = JSON.stringify(Object.fromEntries(due.map((t) => [t.id, t.mark])));
  const staleClaim = now - NOTICE_CLAIM_TIMEOUT_MS;
  const { results } = await d1
    .prepare(
      `UPDATE tokens SET notice_claim_at = ?4 WHERE id IN (${placeholders(due.length, 5)})
       AND (+notice_claim_at IS NULL OR +notice_claim_at < ?3) AND ${spec.dueById.replaceAll("MARK", MARK)} RETURNING id`,
    )
    .bind(now, marks, staleClaim, now, ...due.map((t) => t.id))
    .all<{ id: string }>();
  budget.spend({ d1: 1 });
  const owned = new Set(results.map((r) => r.id));

  const delivered: { t: DueToken; result: WebhookDelivery & { ok: true } }[] = [];
  const released: string[] = [];
  let outOfBudget = false;
  const byOrg = Map.groupBy(
    due.filter((t) => owned.has(t.id)),
    (t) => t.org_id,
  );
  // A receiver is never hit by several at once, and its first failure holds back its other notices.
  await pool([...byOrg.values()], WEBHOOK_CONCURRENCY, async (notices) => {
    for (const t of notices) {
      const fits = budget.fits({ webhooks: 1, d1: 3 });
      if (state.failedOrgs.has(t.org_id) || !fits) {
        outOfBudget ||= !fits;
        state.counts[count.deferred] = (state.counts[count.deferred] ?? 0) + 1;
        released.push(t.id);
        continue;
      }
      // Through the outbox: queued once under its stable id, each attempt in the delivery log (2 queries).
      budget.spend({ webhooks: 1, d1: 2 });
      const result = await deliverNotice(
        d1,
        { orgId: t.org_id, slug: t.org_slug, webhookUrl: t.webhook_url, webhookSecret: t.webhook_secret },
        { id: spec.messageId(t), type: spec.type, data: spec.data(t) },
        now,
      );
      if (result.ok) {
        delivered.push({ t, result });
        continue;
      }
      state.counts[count.failed] = (state.counts[count.failed] ?? 0) + 1;
      state.failedOrgs.add(t.org_id);
      released.push(t.id);
      if (state.errors.length < MAX_ERRORS_KEPT) state.errors.push(`${t.org_slug}: ${result.error}`);
    }
  });

  const db = database(d1);
  const statements: Statement[] = delivered.map(({ t, result }) =>
    auditInsert(
      db,
      SYSTEM_ACTOR,
      { orgId: t.org_id, action: spec.audit, targetType: "token", targetId: t.id, detail: spec.detail(t, result) },
      now,
    ),
  );
  const finish = (ids: string[], set: Partial<Record<NoticeSpec["sentColumn"], SQL>>) =>
    db
      .update(tokens)
      .set({ noticeClaimAt: null, ...set })
      .where(and(inArray(tokens.id, ids), eq(tokens.noticeClaimAt, now)));
  const sentIds = delivered.map((d) => d.t.id);
  if (sentIds.length > 0)
    statements.push(finish(sentIds, { [spec.sentColumn]: sql`json_extract(${marks}, '$."' || ${tokens.id} || '"')` }));
  if (released.length > 0) statements.push(finish(released, {}));
  if (statements.length > 0) {
    await batch(db, statements);
    budget.spend({ d1: 1 });
  }
  state.counts[count.sent] = (state.counts[count.sent] ?? 0) + delivered.length;
  return outOfBudget;
}
