import { Hono } from "hono";
import { z } from "zod";
import { completePasswordReset, previewPasswordReset } from "../../accounts/password-resets";
import { sameOriginIfSent } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { passwordField } from "./schemas";
import { validate } from "./validate";

// Public: the link's secret is the credential, and travels in the body only.
const secretField = z.string().min(1, "is required").max(200);

/** `/api/password-resets`: what the console's /reset#<secret> page calls. */
export const passwordResetRoutes = new Hono<AppEnv>()
  .post("/preview", sameOriginIfSent, validate("json", z.object({ secret: secretField })), async (c) => {
    return c.json(await previewPasswordReset(dbOf(c), c.req.valid("json").secret, nowOf(c)));
  })
  // Sets the new password and ends every session of the account; the person then signs in with it.
  .post(
    "/complete",
    sameOriginIfSent,
    validate("json", z.object({ secret: secretField, password: passwordField })),
    async (c) => {
      const { secret, password } = c.req.valid("json");
      await completePasswordReset(dbOf(c), secret, password, c.get("clientIp"), nowOf(c));
      return c.body(null, 204);
    },
  );
