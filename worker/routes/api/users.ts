import { Hono } from "hono";
import { issuePasswordReset } from "../../accounts/password-resets";
import { actorOf, ownerOnly, requireSudo } from "../../auth/guards";
import { systemClock } from "../../clock";
import { database } from "../../db/client";
import type { AppEnv } from "../../env";

/** `/api/users/:id`: accounts across the instance, for its owner only. */
export const userRoutes = new Hono<AppEnv>()
  // A one-time link for a person who lost their password: they choose the new one (the owner never does).
  .post("/:id/password-reset", ownerOnly, requireSudo, async (c) => {
    const { secret, expiresAt } = await issuePasswordReset(
      database(c.env.DB),
      c.req.param("id"),
      actorOf(c),
      systemClock(),
    );
    return c.json({ secret, url: `${new URL(c.req.url).origin}/reset/${secret}`, expiresAt }, 201);
  });
