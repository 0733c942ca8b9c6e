import { Hono } from "hono";
import { z } from "zod";
import { SETUP_TOKEN_MAX } from "../../accounts/limits";
import { createSession } from "../../accounts/sessions";
import { assertSetupToken, isSetupNeeded, runSetup } from "../../accounts/setup";
import { userView } from "../../accounts/users";
import { setSessionCookie } from "../../auth/cookie";
import { sameOriginIfSent } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf, sessionOf } from "../../http/context";
import { getOrg, orgView } from "../../orgs/orgs";
import { emailField, nameField, passwordField, slugField } from "./schemas";
import { validate } from "./validate";

const setupBody = z.object({
  email: emailField,
  password: passwordField,
  name: nameField.optional(),
  org: z.object({ slug: slugField, name: nameField }),
  /** The deployment's SETUP_TOKEN secret (README, "Deploying to Cloudflare"). */
  setupToken: z.string().max(SETUP_TOKEN_MAX).default(""),
});

/**
 * First run: while no user exists, and for whoever holds the deployment's SETUP_TOKEN, creates the
 * owner and the first organization, and logs the owner in.
 */
export const setupRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json({ needed: await isSetupNeeded(dbOf(c)) }))
  .post("/", sameOriginIfSent, validate("json", setupBody), async (c) => {
    const body = c.req.valid("json");
    await assertSetupToken(c.env.SETUP_TOKEN, body.setupToken);
    const now = nowOf(c);
    const db = dbOf(c);
    const { user, orgId } = await runSetup(
      sessionOf(c),
      db,
      { email: body.email, password: body.password, name: body.name ?? "", org: body.org },
      c.get("clientIp"),
      now,
    );
    const session = await createSession(
      db,
      user.id,
      { ip: c.get("clientIp"), userAgent: c.req.header("user-agent") ?? null },
      now,
    );
    setSessionCookie(c, session.cookie, session.expiresAt, now);
    return c.json({ user: userView(user), org: orgView(await getOrg(db, orgId), true) }, 201);
  });
