import { Hono } from "hono";
import { z } from "zod";
import { SESSION_PUBLIC_ID_CHARS } from "../../accounts/limits";
import { endOtherSessionsOf, endSession, listSessions } from "../../accounts/session-list";
import { actorOf, requireUser, userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { validate } from "./validate";

const sessionParam = z.object({
  id: z.string().regex(new RegExp(`^[0-9a-f]{${SESSION_PUBLIC_ID_CHARS}}$`), "is not a session id"),
});

// The caller's own sessions only: an id from anyone else's list is a 404 here. Ending another session
// needs no password: it is what a person does on suspecting a stolen cookie, and the password change
// that follows ends every other session anyway (docs/DESIGN.md §5).
export const meSessionRoutes = new Hono<AppEnv>()
  .get("/", requireUser, async (c) => {
    const caller = userOf(c);
    return c.json({ items: await listSessions(dbOf(c), caller.userId, caller.sessionId, nowOf(c)) });
  })
  .post("/sign-out-others", requireUser, async (c) => {
    const caller = userOf(c);
    const ended = await endOtherSessionsOf(dbOf(c), caller.userId, caller.sessionId, actorOf(c), nowOf(c));
    return c.json({ ended }, 200);
  })
  .delete("/:id", requireUser, validate("param", sessionParam), async (c) => {
    const caller = userOf(c);
    await endSession(dbOf(c), caller.userId, caller.sessionId, c.req.valid("param").id, actorOf(c), nowOf(c));
    return c.body(null, 204);
  });
