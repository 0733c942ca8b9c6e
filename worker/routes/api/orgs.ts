import { Hono } from "hono";
import { z } from "zod";
import { actorOf, assertSudo, orgAccess, ownerOnly, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { accessDbOf, dbOf, nowOf } from "../../http/context";
import { isOutboundUrlTextAllowed, OUTBOUND_URL_RULE } from "../../http/outbound-url";
import { createOrg, getOrg, listOrgs, type OrgScope, orgView, updateOrg } from "../../orgs/orgs";
import { WEBHOOK_KEY_MAX_BYTES, WEBHOOK_KEY_MIN_BYTES, webhookKey } from "../../webhooks/sign";
import { nameField, pageQuery, slugField } from "./schemas";
import { validate } from "./validate";

const WEBHOOK_URL_MAX = 2048;

// Standard Webhooks' secret form (worker/webhooks/sign.ts), so the receiver's library takes it as it is.
const webhookSecret = z.string().refine((secret) => {
  const bytes = webhookKey(secret)?.length ?? 0;
  return bytes >= WEBHOOK_KEY_MIN_BYTES && bytes <= WEBHOOK_KEY_MAX_BYTES;
}, `must be whsec_ then the base64 of ${WEBHOOK_KEY_MIN_BYTES} to ${WEBHOOK_KEY_MAX_BYTES} random bytes`);

const createBody = z.object({ slug: slugField, name: nameField });
const patchBody = z
  .object({
    name: nameField.optional(),
    webhook: z
      .object({
        url: z
          .url({ protocol: /^https?$/, message: "must be an https:// URL" })
          .max(WEBHOOK_URL_MAX)
          .refine(isOutboundUrlTextAllowed, OUTBOUND_URL_RULE),
        // Left out, the stored secret stays: only the address changes.
        secret: webhookSecret.optional(),
      })
      .nullable()
      .optional(),
  })
  .refine((b) => b.name !== undefined || b.webhook !== undefined, "send at least one of name, webhook");

export const orgRoutes = new Hono<AppEnv>()
  // The organizations the caller can see: all for the owner, its memberships for a user, its own for a token.
  .get("/", validate("query", z.object(pageQuery)), async (c) => {
    const caller = c.get("caller");
    const { cursor, limit } = c.req.valid("query");
    const scope: OrgScope =
      caller.type === "token" ? { orgId: caller.orgId } : caller.isOwner ? { all: true } : { userId: caller.userId };
    // Which organizations a person belongs to decides what they may see: read at the primary, as access is.
    return c.json(await listOrgs(accessDbOf(c), scope, { cursor, limit }));
  })
  .post("/", ownerOnly, requireSudo, validate("json", createBody), async (c) => {
    const caller = c.get("caller");
    const creator = caller.type === "user" ? caller.userId : null;
    return c.json(await createOrg(dbOf(c), c.req.valid("json"), creator, actorOf(c), nowOf(c)), 201);
  })
  .get("/:org", orgAccess("member", "none"), async (c) => {
    const access = c.get("access");
    const row = await getOrg(dbOf(c), c.get("org").id);
    return c.json({ ...orgView(row, access.orgAdmin), role: access.role });
  })
  // Name and webhook; the slug is the organization's address and does not change. Where
  // notices go is as sensitive as a token change: the webhook needs sudo.
  .patch("/:org", orgAccess("admin", "manage:settings"), validate("json", patchBody), async (c) => {
    if (c.req.valid("json").webhook !== undefined) assertSudo(c);
    return c.json(await updateOrg(dbOf(c), c.get("org").id, c.req.valid("json"), actorOf(c), nowOf(c)));
  });
