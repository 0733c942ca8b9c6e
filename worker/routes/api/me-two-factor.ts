import { Hono } from "hono";
import { z } from "zod";
import {
  disableTwoFactor,
  enableTwoFactor,
  regenerateRecoveryCodes,
  startEnrollment,
  twoFactorState,
} from "../../accounts/two-factor";
import { actorOf, requireUser, userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf } from "../../http/context";
import { confirmCaller } from "./confirm-caller";
import { typedPassword } from "./schemas";
import { validate } from "./validate";

/** A TOTP code or a recovery code, as typed (spaces and dashes allowed). */
export const secondFactorCode = z.string().trim().max(32, "must be at most 32 characters");

const passwordOnly = z.object({ password: typedPassword });
const passwordAndCode = z.object({ password: typedPassword, code: secondFactorCode });

// Every change here needs the password in the same request, checked under the session's confirmation
// throttle: a stolen cookie alone cannot enroll, disable, or read recovery codes (docs/DESIGN.md §5).
export const meTwoFactorRoutes = new Hono<AppEnv>()
  .get("/", requireUser, async (c) => c.json(await twoFactorState(dbOf(c), userOf(c).userId)))
  // Step one: a new secret, shown this once as base32 and an otpauth:// URI for the authenticator app.
  .post("/setup", requireUser, validate("json", passwordOnly), async (c) => {
    const caller = userOf(c);
    await confirmCaller(c, "two_factor", c.req.valid("json").password);
    const user = { id: caller.userId, email: caller.email };
    return c.json(await startEnrollment(dbOf(c), c.env.TOKEN_PEPPER, user, nowOf(c)), 201);
  })
  // Step two: one right code from the app turns it on; the ten recovery codes are answered this once.
  .post("/enable", requireUser, validate("json", passwordAndCode), async (c) => {
    const caller = userOf(c);
    const now = nowOf(c);
    const db = dbOf(c);
    const { password, code } = c.req.valid("json");
    await confirmCaller(c, "two_factor", password, { code, enrolling: true });
    return c.json({ recoveryCodes: await enableTwoFactor(db, caller.userId, actorOf(c), now) }, 200);
  })
  // New recovery codes take a code too (or a recovery code): they pass sudo and sign-in, so a stolen
  // cookie and the password alone must not be able to mint them.
  .post("/recovery-codes", requireUser, validate("json", passwordAndCode), async (c) => {
    const caller = userOf(c);
    const now = nowOf(c);
    const db = dbOf(c);
    const { password, code } = c.req.valid("json");
    await confirmCaller(c, "two_factor", password, { code });
    if (!caller.twoFactor) throw new AppError("conflict", "Two-factor sign-in is off: there are no recovery codes.");
    return c.json({ recoveryCodes: await regenerateRecoveryCodes(db, caller.userId, actorOf(c), now) }, 200);
  })
  // Turning it off takes the password and a code (or a recovery code).
  .post("/disable", requireUser, validate("json", passwordAndCode), async (c) => {
    const caller = userOf(c);
    const now = nowOf(c);
    const db = dbOf(c);
    const { password, code } = c.req.valid("json");
    if (!caller.twoFactor) throw new AppError("conflict", "Two-factor sign-in is already off.");
    await confirmCaller(c, "two_factor", password, { code });
    await disableTwoFactor(db, caller.userId, actorOf(c), now);
    return c.body(null, 204);
  });
