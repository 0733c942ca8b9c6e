// What an organization's webhook can subscribe to (docs/API.md "Webhook events").

/**
 * Audit actions that become webhook events, by name. The `audit_events` trigger of migration 0009
 * reads this same map from the `webhook_event_map` table, so an event is queued in the transaction
 * that records the change, whatever code path wrote the audit row (drizzle inserts, the bulk revoke's
 * and the cron's `INSERT … SELECT`). test/webhook-lifecycle-events.test.ts holds the two equal; a new
 * row here needs a migration adding it there. Actions other helpers add (`token.rotated`,
 * `token.grace_ended`, `token.kept`) are mapped already, so they flow as soon as they are recorded.
 */
export const AUDIT_WEBHOOK_EVENTS = {
  "token.created": "token.created",
  "token.regenerated": "token.regenerated",
  "token.rotated": "token.rotated",
  "token.grace_ended": "token.grace_ended",
  "token.kept": "token.kept",
  "token.disabled": "token.disabled",
  "token.enabled": "token.enabled",
  "token.revoked": "token.revoked",
  "token.deleted": "token.deleted",
  "token.expired": "token.expired",
  "token.purged": "token.purged",
  "member.added": "member.added",
  // Joining through an invitation is how most people are added: the receiver hears it as an addition.
  "invitation.accepted": "member.added",
  "member.invited": "member.invited",
  "member.updated": "member.updated",
  "member.removed": "member.removed",
} as const satisfies Record<string, string>;

/**
 * Events their producer queues itself, with its own stable id (not through the audit trigger):
 * expiry notices (`msg_notice_<threshold>_<token id>_<expiry>`), purge warnings, and the one leak alert per
 * organization and report that lists every token found.
 */
export const DIRECT_WEBHOOK_EVENTS = ["token.expiring", "token.purge_warning", "token.leaked"] as const;

export const WEBHOOK_EVENT_TYPES = [
  ...new Set([...DIRECT_WEBHOOK_EVENTS, ...Object.values(AUDIT_WEBHOOK_EVENTS)]),
].sort() as WebhookEventType[];
export type WebhookEventType =
  | (typeof DIRECT_WEBHOOK_EVENTS)[number]
  | (typeof AUDIT_WEBHOOK_EVENTS)[keyof typeof AUDIT_WEBHOOK_EVENTS];

/**
 * What an organization that never chose receives: what every webhook received before subscriptions
 * existed (notices and leak alerts). Only direct events, so an organization without a
 * `webhook_settings` row needs nothing from the trigger.
 */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventType[] = DIRECT_WEBHOOK_EVENTS;
