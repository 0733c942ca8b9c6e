import { Hono } from "hono";
import { issuePasswordReset } from "../../accounts/password-resets";
import { actorOf, ownerOnly, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";

/** `/api/users/:id`: accounts across the instance, for its owner only. */
export const userRoutes = new Hono<AppEnv>()
  // A one-time link for a person who lost their password: they choose the new one (the owner never does).
  .post("/:id/password-reset", ownerOnly, requireSudo, async (c) => {
    const { secret, expiresAt } = await issuePasswordReset(dbOf(c), c.req.param("id"), actorOf(c), nowOf(c));
    return c.json({ secret, url: `${new URL(c.req.url).origin}/reset#${secret}`, expiresAt }, 201);
  });
