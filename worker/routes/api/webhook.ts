import { Hono } from "hono";
import { z } from "zod";
import { writeAudit } from "../../audit/events";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf, sessionOf } from "../../http/context";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/events";
import { listDeliveries, redeliver } from "../../webhooks/outbox";
import { getWebhookEvents, setWebhookEvents } from "../../webhooks/subscriptions";
import { validate } from "./validate";

const eventsBody = z.object({
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES))
    .max(WEBHOOK_EVENT_TYPES.length * 2)
    .refine((list) => new Set(list).size === list.length, "must not repeat an event type"),
});

/**
 * The webhook's event subscription and delivery log, beside the webhook settings of `/api/orgs/:org`
 * (docs/API.md "Webhook events"). The same rights as changing the webhook: organization admins, tokens
 * with `manage:settings`; changing what is sent, or sending it again, needs sudo.
 */
export const webhookRoutes = new Hono<AppEnv>()
  .get("/:org/webhook/events", orgAccess("admin", "manage:settings"), async (c) => {
    return c.json(await getWebhookEvents(dbOf(c), c.get("org").id));
  })
  .put(
    "/:org/webhook/events",
    orgAccess("admin", "manage:settings"),
    requireSudo,
    validate("json", eventsBody),
    async (c) => {
      const { events } = c.req.valid("json");
      return c.json(await setWebhookEvents(dbOf(c), c.get("org").id, events, actorOf(c), nowOf(c)));
    },
  )
  .get("/:org/webhook/deliveries", orgAccess("admin", "manage:settings"), async (c) => {
    return c.json({ items: await listDeliveries(dbOf(c), c.get("org").id), next: null });
  })
  .post("/:org/webhook/deliveries/:id/redeliver", orgAccess("admin", "manage:settings"), requireSudo, async (c) => {
    const orgId = c.get("org").id;
    const now = nowOf(c);
    const delivery = await redeliver(sessionOf(c), orgId, c.req.param("id"), now);
    if (delivery === null) throw new AppError("not_found", "No such delivery.");
    if (delivery === "no_webhook") throw new AppError("conflict", "The organization has no webhook to deliver to.");
    if (delivery === "busy")
      throw new AppError("conflict", "This delivery is being attempted right now; try again in a minute.");
    await writeAudit(
      dbOf(c),
      actorOf(c),
      {
        orgId,
        action: "webhook.redelivered",
        targetType: "webhook",
        targetId: delivery.id,
        detail: { type: delivery.type, delivered: delivery.state === "delivered", status: delivery.status },
      },
      now,
    );
    return c.json(delivery);
  });
