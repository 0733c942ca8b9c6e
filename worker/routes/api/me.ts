import { Hono } from "hono";
import { z } from "zod";
import { membershipsOf } from "../../accounts/memberships";
import { endOtherSessions } from "../../accounts/sessions";
import { twoFactorState } from "../../accounts/two-factor";
import { changePassword, findUserById, userView } from "../../accounts/users";
import { actorOf, requireUser, userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf } from "../../http/context";
import { findGroupById } from "../../orgs/groups";
import { getOrg } from "../../orgs/orgs";
import { confirmCaller } from "./confirm-caller";
import { secondFactorCode } from "./me-two-factor";
import { passwordField, typedPassword } from "./schemas";
import { validate } from "./validate";

// `code`: with two-factor sign-in on, a stolen cookie and the password must not be enough to lock the person out.
const passwordBody = z.object({
  currentPassword: typedPassword,
  newPassword: passwordField,
  code: secondFactorCode.optional(),
});

export const meRoutes = new Hono<AppEnv>()
  // The caller and where it belongs: what the console draws its navigation from.
  .get("/", async (c) => {
    const caller = c.get("caller");
    const db = dbOf(c);
    if (caller.type === "token") {
      const org = await getOrg(db, caller.orgId);
      const group = caller.groupId ? await findGroupById(db, caller.orgId, caller.groupId) : null;
      return c.json({
        type: "token" as const,
        token: {
          id: caller.tokenId,
          kind: caller.kind,
          org: { id: org.id, slug: org.slug, name: org.name },
          group: group ? { id: group.id, slug: group.slug, name: group.name } : null,
          projects: caller.projects,
          permissions: caller.permissions,
        },
      });
    }
    const user = await findUserById(db, caller.userId);
    if (!user) throw new AppError("unauthenticated", "Your account no longer exists.");
    return c.json({
      type: "user" as const,
      user: userView(user),
      memberships: await membershipsOf(db, user.id),
      twoFactor: await twoFactorState(db, user.id),
      sudoUntil:
        caller.sudoUntil !== null && caller.sudoUntil > nowOf(c) ? new Date(caller.sudoUntil).toISOString() : null,
    });
  })
  // Change one's own password: the current one (and a code, with two-factor sign-in on) is the
  // confirmation; every other session ends.
  .post("/password", requireUser, validate("json", passwordBody), async (c) => {
    const caller = userOf(c);
    const { currentPassword, newPassword, code } = c.req.valid("json");
    const now = nowOf(c);
    const db = dbOf(c);
    await confirmCaller(c, "password_change", currentPassword, { code });
    await changePassword(db, caller.userId, newPassword, actorOf(c), now);
    await endOtherSessions(db, caller.userId, caller.sessionId);
    return c.body(null, 204);
  });
