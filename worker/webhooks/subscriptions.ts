import { eq } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import { batch } from "../db/batch";
import type { Db } from "../db/client";
import { webhookSettings } from "../db/schema";
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES, type WebhookEventType } from "./events";

export interface WebhookSubscription {
  /** What the organization's webhook receives, sorted. */
  events: WebhookEventType[];
  /** Every event type there is. */
  available: WebhookEventType[];
}

const view = (events: readonly string[]): WebhookSubscription => ({
  events: WEBHOOK_EVENT_TYPES.filter((t) => events.includes(t)),
  available: [...WEBHOOK_EVENT_TYPES],
});

/** The organization's chosen event types, or the defaults when it never chose. */
export async function getWebhookEvents(db: Db, orgId: string): Promise<WebhookSubscription> {
  const row = await db.query.webhookSettings.findFirst({ where: eq(webhookSettings.orgId, orgId) });
  return view(row?.events ?? DEFAULT_WEBHOOK_EVENTS);
}

/** Replaces the subscription, audited (`webhook.events_updated`) in the same transaction. */
export async function setWebhookEvents(
  db: Db,
  orgId: string,
  events: WebhookEventType[],
  actor: Actor,
  now: number,
): Promise<WebhookSubscription> {
  const chosen = view(events).events;
  await batch(db, [
    db
      .insert(webhookSettings)
      .values({ orgId, events: chosen, updatedAt: now })
      .onConflictDoUpdate({ target: webhookSettings.orgId, set: { events: chosen, updatedAt: now } }),
    auditInsert(
      db,
      actor,
      { orgId, action: "webhook.events_updated", targetType: "org", targetId: orgId, detail: { events: chosen } },
      now,
    ),
  ]);
  return view(chosen);
}
