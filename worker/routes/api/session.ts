import { Hono } from "hono";
import { z } from "zod";
import { checkPassword } from "../../accounts/login";
import { createSession, deleteSessionByCookie, findSession, grantSudo } from "../../accounts/sessions";
import { checkSecondFactor } from "../../accounts/two-factor";
import { userView } from "../../accounts/users";
import { writeAudit } from "../../audit/events";
import { clearSessionCookie, readSessionCookie, setSessionCookie } from "../../auth/cookie";
import { actorOf, assertSameOrigin, requireUser, sameOriginIfSent, userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { confirmCaller } from "./confirm-caller";
import { secondFactorCode } from "./me-two-factor";
import { emailField, typedPassword } from "./schemas";
import { withRetryAfter } from "./throttled";
import { validate } from "./validate";

// `code`: the authenticator's code or a recovery code, for accounts with two-factor sign-in on.
const loginBody = z.object({ email: emailField, password: typedPassword, code: secondFactorCode.optional() });
const confirmBody = z.object({ password: typedPassword, code: secondFactorCode.optional() });

export const sessionRoutes = new Hono<AppEnv>()
  // Log in. A new session every time (rotation); the session the request came with, if any, ends.
  .post("/", sameOriginIfSent, validate("json", loginBody), async (c) => {
    const { email, password, code } = c.req.valid("json");
    const now = nowOf(c);
    const db = dbOf(c);
    const ip = c.get("clientIp");
    const secondFactor = (u: { id: string }) => checkSecondFactor(db, c.env.TOKEN_PEPPER, u.id, code, now);
    const user = await withRetryAfter(
      c,
      checkPassword(db, { email, password, ip, purpose: "login", secondFactor }, now),
    );
    const previous = readSessionCookie(c);
    if (previous !== undefined) await deleteSessionByCookie(db, previous);
    const session = await createSession(db, user.id, { ip, userAgent: c.req.header("user-agent") ?? null }, now);
    await writeAudit(
      db,
      { type: "user", id: user.id, ip },
      { orgId: null, action: "session.login", targetType: "user", targetId: user.id },
      now,
    );
    setSessionCookie(c, session.cookie, session.expiresAt, now);
    return c.json({ user: userView(user), expiresAt: new Date(session.expiresAt).toISOString() }, 200);
  })
  // Log out: the session row goes, so the cookie is dead even if a copy survives somewhere.
  .delete("/", async (c) => {
    const cookie = readSessionCookie(c);
    if (cookie !== undefined) {
      assertSameOrigin(c, true);
      const db = dbOf(c);
      const now = nowOf(c);
      const session = await findSession(db, cookie, now);
      await deleteSessionByCookie(db, cookie);
      if (session) {
        await writeAudit(
          db,
          { type: "user", id: session.userId, ip: c.get("clientIp") },
          { orgId: null, action: "session.logout", targetType: "user", targetId: session.userId },
          now,
        );
      }
    }
    clearSessionCookie(c);
    return c.body(null, 204);
  })
  // Sudo: a fresh password confirmation (and code, with two-factor sign-in on) unlocks token-changing actions for 5 minutes.
  .post("/confirm", requireUser, validate("json", confirmBody), async (c) => {
    const caller = userOf(c);
    const now = nowOf(c);
    const db = dbOf(c);
    const { password, code } = c.req.valid("json");
    await confirmCaller(c, "sudo", password, { code });
    const sudoUntil = await grantSudo(db, caller.sessionId, now);
    await writeAudit(
      db,
      actorOf(c),
      { orgId: null, action: "session.sudo", targetType: "user", targetId: caller.userId },
      now,
    );
    return c.json({ sudoUntil: new Date(sudoUntil).toISOString() }, 200);
  });
