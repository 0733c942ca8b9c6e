import { Hono } from "hono";
import { z } from "zod";
import { createSession, deleteSessionByCookie } from "../../accounts/sessions";
import { userView } from "../../accounts/users";
import { readSessionCookie, setSessionCookie } from "../../auth/cookie";
import { actorOf, orgAccess, requireSudo, requireUser, sameOriginIfSent, userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf, storeEnvOf } from "../../http/context";
import {
  acceptInvitation,
  listPendingInvitations,
  previewInvitation,
  registerFromInvitation,
  revokeInvitation,
} from "../../orgs/invitations";
import { nameField, pageQuery, passwordField } from "./schemas";
import { validate } from "./validate";

// The link's secret travels in the body only, never in an API path (or a log line with it).
const secretField = z.string().min(1, "is required").max(200);
const secretBody = z.object({ secret: secretField });
const registerBody = z.object({ secret: secretField, name: nameField, password: passwordField });

/**
 * Pending invitations of `/api/orgs/:org` (made by `POST /:org/members` for an email without an
 * account). Organization admins list and revoke them, like member changes (sudo).
 */
export const orgInvitationRoutes = new Hono<AppEnv>()
  .get("/:org/invitations", orgAccess("admin", "manage:members"), validate("query", z.object(pageQuery)), async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return c.json(await listPendingInvitations(dbOf(c), c.get("org").id, { cursor, limit }, nowOf(c)));
  })
  .delete("/:org/invitations/:id", orgAccess("admin", "manage:members"), requireSudo, async (c) => {
    await revokeInvitation(dbOf(c), c.get("org").id, c.req.param("id"), actorOf(c), nowOf(c));
    return c.body(null, 204);
  });

/** `/api/invitations`: what the invitee's console calls with the link's secret. */
export const invitationRoutes = new Hono<AppEnv>()
  // Public: the organization, email, role and expiry behind a link, before anyone signs up.
  .post("/preview", sameOriginIfSent, validate("json", secretBody), async (c) => {
    return c.json(await previewInvitation(dbOf(c), c.req.valid("json").secret, nowOf(c)));
  })
  // Public: the invitee's own account (name and password of their choosing) and membership, signed in.
  .post("/register", sameOriginIfSent, validate("json", registerBody), async (c) => {
    const { secret, name, password } = c.req.valid("json");
    const now = nowOf(c);
    const db = dbOf(c);
    const ip = c.get("clientIp");
    const { user, member } = await registerFromInvitation(db, secret, { name, password }, ip, now);
    const previous = readSessionCookie(c);
    if (previous !== undefined) await deleteSessionByCookie(db, previous);
    const session = await createSession(db, user.id, { ip, userAgent: c.req.header("user-agent") ?? null }, now);
    setSessionCookie(c, session.cookie, session.expiresAt, now);
    return c.json({ user: userView(user), member, expiresAt: new Date(session.expiresAt).toISOString() }, 201);
  })
  // Signed in already: joins this account, only when its email is the one the invitation names.
  .post("/accept", requireUser, validate("json", secretBody), async (c) => {
    const caller = userOf(c);
    const member = await acceptInvitation(
      storeEnvOf(c),
      c.req.valid("json").secret,
      caller,
      c.get("clientIp"),
      nowOf(c),
    );
    return c.json(member, 200);
  });
