import { Hono } from "hono";
import { z } from "zod";
import { actorOf, assertSudo, orgAccess, ownerOnly, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { createOrg, getOrg, listOrgs, type OrgScope, orgView, updateOrg } from "../../orgs/orgs";
import { nameField, pageQuery, slugField } from "./schemas";
import { validate } from "./validate";

const WEBHOOK_URL_MAX = 2048;

const createBody = z.object({ slug: slugField, name: nameField });
const patchBody = z
  .object({
    name: nameField.optional(),
    webhook: z
      .object({
        url: z.url({ protocol: /^https$/, message: "must be an https:// URL" }).max(WEBHOOK_URL_MAX),
        // Left out, the stored secret stays: only the address changes.
        secret: z
          .string()
          .min(16, "must be at least 16 characters")
          .max(200, "must be at most 200 characters")
          .optional(),
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
    return c.json(await listOrgs(dbOf(c), scope, { cursor, limit }));
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
