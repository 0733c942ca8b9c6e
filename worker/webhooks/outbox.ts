import { and, desc, eq, isNotNull, sql } from "drizzle-orm";
import { type Db, database } from "../db/client";
import { organizations, webhookOutbox } from "../db/schema";
import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import {
  WEBHOOK_CLAIM_MS,
  WEBHOOK_LOG_LIMIT,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_RETRY_BASE_MS,
  WEBHOOK_RETRY_MAX_DELAY_MS,
} from "../limits";
import { log } from "../observability/log";
import { deliverWebhook, type WebhookDelivery, type WebhookMessage, type WebhookTarget } from "./deliver";
import { DEFAULT_WEBHOOK_EVENTS } from "./events";

// The outbox (docs/DESIGN.md §4.1): every event is a `webhook_outbox` row before anything is sent, and
// every attempt is recorded on it, so the row is also the delivery log's line.

export type OutboxRow = typeof webhookOutbox.$inferSelect;

/** Wait before the next attempt, after `attempts` failed ones: 5 min, 10, 20, … up to 12 hours. */
export function retryDelay(attempts: number): number {
  return Math.min(WEBHOOK_RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1), WEBHOOK_RETRY_MAX_DELAY_MS);
}

/**
 * The row's new state after one attempt. `held` rows (expiry notices) stay off the cron's list: their
 * producer retries them on its own schedule. Others get their next try by the backoff, or give up
 * after WEBHOOK_MAX_ATTEMPTS.
 */
function afterAttempt(attempts: number, result: WebhookDelivery, now: number, held: boolean) {
  const base = {
    attempts,
    claimedAt: null,
    lastAttemptAt: now,
    lastStatus: result.status,
    lastError: result.ok ? null : result.error.slice(0, 500),
  };
  if (result.ok) return { ...base, state: "delivered" as const, nextAttemptAt: null };
  if (held) return { ...base, state: "pending" as const, nextAttemptAt: null };
  if (attempts >= WEBHOOK_MAX_ATTEMPTS) return { ...base, state: "failed" as const, nextAttemptAt: null };
  return { ...base, state: "pending" as const, nextAttemptAt: now + retryDelay(attempts) };
}

/** The row as its message: the same id and body (the event's own time) on every attempt. */
const messageOf = (row: Pick<OutboxRow, "id" | "type" | "data" | "createdAt">): WebhookMessage => ({
  id: row.id,
  type: row.type,
  data: row.data,
  createdAt: row.createdAt,
});

export interface Attempted {
  row: OutboxRow;
  result: WebhookDelivery;
}

function logFailure(orgId: string, row: Pick<OutboxRow, "type" | "state">, attempts: number, result: WebhookDelivery) {
  if (result.ok) return;
  (row.state === "failed" ? log.error : log.warn)(row.state === "failed" ? "webhook.gave_up" : "webhook.failed", {
    orgId,
    type: row.type,
    attempts,
    status: result.status,
    error: result.error,
  });
}

/** Sends one claimed row and records the attempt on it (the row answered is the recorded one). */
export async function attemptDelivery(
  d1: D1,
  org: WebhookTarget,
  row: OutboxRow,
  now: number,
  held = false,
): Promise<Attempted> {
  const result = await deliverWebhook(org, messageOf(row), now);
  const attempts = row.attempts + 1;
  const next = afterAttempt(attempts, result, now, held);
  await database(d1).update(webhookOutbox).set(next).where(eq(webhookOutbox.id, row.id));
  const recorded = { ...row, ...next };
  logFailure(row.orgId, recorded, attempts, result);
  return { row: recorded, result };
}

/**
 * Queues an event its producer names itself (an expiry notice, a leak alert), if the organization has
 * a webhook and subscribes to the type, as one statement for the producer's batch. A row already there
 * (the same notice claimed again) is left as it is.
 */
export function directEventInsert(
  db: Db,
  event: { id: string; orgId: string; type: string; data: Record<string, unknown>; at: number; held?: boolean },
) {
  const value = <T>(v: T, name: string) => sql<T>`${v}`.as(name);
  const subscribed = sql`EXISTS (SELECT 1 FROM json_each(coalesce(
    (SELECT events FROM webhook_settings WHERE org_id = ${organizations.id}), ${JSON.stringify(DEFAULT_WEBHOOK_EVENTS)})) e
    WHERE e.value = ${event.type})`;
  return db
    .insert(webhookOutbox)
    .select(
      db
        .select({
          id: value(event.id, "id"),
          orgId: sql<string>`${organizations.id}`.as("org_id"),
          type: value(event.type, "type"),
          data: value(JSON.stringify(event.data), "data"),
          createdAt: value(event.at, "created_at"),
          state: value("pending", "state"),
          attempts: value(0, "attempts"),
          nextAttemptAt: value(event.held ? null : event.at, "next_attempt_at"),
          claimedAt: sql<null>`NULL`.as("claimed_at"),
          lastAttemptAt: sql<null>`NULL`.as("last_attempt_at"),
          lastStatus: sql<null>`NULL`.as("last_status"),
          lastError: sql<null>`NULL`.as("last_error"),
        })
        .from(organizations)
        .where(
          and(
            eq(organizations.id, event.orgId),
            isNotNull(organizations.webhookUrl),
            isNotNull(organizations.webhookSecret),
            subscribed,
          ),
        ),
    )
    .onConflictDoNothing();
}

/**
 * An expiry notice, through the outbox: queued (once; its id is stable), then sent at once and recorded.
 * Its producer (worker/cron/notices.ts) keeps retrying it by its own claim rules, so the row is held
 * off the cron's backoff list. A notice the organization does not subscribe to is not sent and counts
 * as done (`status: null`); one already delivered (a redelivery from the console got there) is not sent again.
 */
export async function deliverNotice(
  d1: D1,
  org: WebhookTarget & { orgId: string },
  message: WebhookMessage,
  now: number,
): Promise<WebhookDelivery> {
  const db = database(d1);
  await directEventInsert(db, { ...message, orgId: org.orgId, at: now, held: true });
  const row = await db.query.webhookOutbox.findFirst({ where: eq(webhookOutbox.id, message.id) });
  if (!row) return { ok: true, deliveryId: message.id, status: null };
  if (row.state === "delivered") return { ok: true, deliveryId: row.id, status: row.lastStatus };
  return (await attemptDelivery(d1, org, row, now, true)).result;
}

export interface DueEvent {
  row: OutboxRow;
  org: WebhookTarget;
}

interface DueRow {
  id: string;
  org_id: string;
  type: string;
  data: string;
  created_at: number;
  state: OutboxRow["state"];
  attempts: number;
  next_attempt_at: number | null;
  claimed_at: number | null;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  slug: string;
  webhook_url: string | null;
  webhook_secret: string | null;
}

const toDue = (r: DueRow): DueEvent => ({
  row: {
    id: r.id,
    orgId: r.org_id,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
    createdAt: r.created_at,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    claimedAt: r.claimed_at,
    lastAttemptAt: r.last_attempt_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
  },
  org: { slug: r.slug, webhookUrl: r.webhook_url, webhookSecret: r.webhook_secret },
});

// RETURNING may not name a joined table's columns; correlated subqueries may.
const DUE_COLUMNS = `id, org_id, type, data, created_at, state, attempts, next_attempt_at, claimed_at, last_attempt_at,
  last_status, last_error, (SELECT slug FROM organizations WHERE id = org_id) AS slug,
  (SELECT webhook_url FROM organizations WHERE id = org_id) AS webhook_url,
  (SELECT webhook_secret FROM organizations WHERE id = org_id) AS webhook_secret`;

/**
 * Claims up to `limit` events due now, oldest due first: `claimed_at` marks them, so a second run (or
 * a redelivery) racing this one cannot send them too, and a run that dies hands them back once
 * WEBHOOK_CLAIM_MS has passed. One SELECT and one conditional UPDATE.
 */
export async function claimDue(d1: D1, now: number, limit: number): Promise<DueEvent[]> {
  const { results: ids } = await d1
    .prepare(
      `SELECT id FROM webhook_outbox WHERE next_attempt_at <= ?1 AND state = 'pending'
         AND (claimed_at IS NULL OR claimed_at <= ?2) ORDER BY next_attempt_at LIMIT ?3`,
    )
    .bind(now, now - WEBHOOK_CLAIM_MS, limit)
    .all<{ id: string }>();
  if (ids.length === 0) return [];
  return claim(
    d1,
    ids.map((r) => r.id),
    now,
    true,
  );
}

/** Claims the named events that no attempt holds; `due`: only those the cron owes an attempt now. */
async function claim(d1: D1, ids: string[], now: number, due: boolean): Promise<DueEvent[]> {
  const { results } = await d1
    .prepare(
      `UPDATE webhook_outbox SET claimed_at = ?1
       WHERE id IN (${placeholders(ids.length, 3)}) AND (+claimed_at IS NULL OR +claimed_at <= ?2)
         ${due ? "AND +next_attempt_at <= ?1 AND +state = 'pending'" : ""}
       RETURNING ${DUE_COLUMNS}`,
    )
    .bind(now, now - WEBHOOK_CLAIM_MS, ...ids)
    .all<DueRow>();
  return results.map(toDue);
}

/** The delivery log's line: what the console shows of an event, never its body or the receiver's answer. */
export interface DeliveryView {
  id: string;
  type: string;
  createdAt: string;
  state: "pending" | "retrying" | "delivered" | "failed";
  attempts: number;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  status: number | null;
  error: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function deliveryView(row: OutboxRow): DeliveryView {
  return {
    id: row.id,
    type: row.type,
    createdAt: new Date(row.createdAt).toISOString(),
    state: row.state === "pending" && row.attempts > 0 ? "retrying" : row.state,
    attempts: row.attempts,
    lastAttemptAt: iso(row.lastAttemptAt),
    nextAttemptAt: iso(row.nextAttemptAt),
    status: row.lastStatus,
    error: row.lastError,
  };
}

/** The organization's newest WEBHOOK_LOG_LIMIT events, newest first. */
export async function listDeliveries(db: Db, orgId: string): Promise<DeliveryView[]> {
  const rows = await db
    .select()
    .from(webhookOutbox)
    .where(eq(webhookOutbox.orgId, orgId))
    .orderBy(desc(webhookOutbox.createdAt), desc(webhookOutbox.id))
    .limit(WEBHOOK_LOG_LIMIT);
  return rows.map(deliveryView);
}

/**
 * Sends one of the organization's events again now, under its own `webhook-id`, whatever its state.
 * Claimed as the cron claims, so two clicks or a racing run send it once. A
 * failure goes on by the backoff from its attempt count. Null: no such event in this organization;
 * "busy": another attempt holds it; "no_webhook": there is nowhere to send it.
 */
export async function redeliver(
  d1: D1,
  orgId: string,
  id: string,
  now: number,
): Promise<DeliveryView | null | "busy" | "no_webhook"> {
  const [found] = await database(d1)
    .select({ webhookUrl: organizations.webhookUrl })
    .from(webhookOutbox)
    .innerJoin(organizations, eq(organizations.id, webhookOutbox.orgId))
    .where(and(eq(webhookOutbox.orgId, orgId), eq(webhookOutbox.id, id)));
  if (!found) return null;
  if (found.webhookUrl === null) return "no_webhook";
  const [due] = await claim(d1, [id], now, false);
  if (!due) return "busy";
  const { row } = await attemptDelivery(d1, due.org, { ...due.row, state: "pending" }, now);
  return deliveryView(row);
}

/**
 * Sends freshly queued events at once (a leak alert should not wait for the cron), claimed as the
 * cron claims them; a failure is left to the cron's backoff. Answers what was attempted.
 */
export async function deliverNow(d1: D1, ids: string[], now: number): Promise<Attempted[]> {
  if (ids.length === 0) return [];
  const attempted: Attempted[] = [];
  for (const { row, org } of await claim(d1, ids, now, true)) attempted.push(await attemptDelivery(d1, org, row, now));
  return attempted;
}
