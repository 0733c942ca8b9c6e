import { Hono } from "hono";
import { z } from "zod";
import { actorOf, orgAccess, requireSudo } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { AppError } from "../../errors";
import { dbOf, nowOf } from "../../http/context";
import { setTwoFactorPolicy, twoFactorPolicyOf } from "../../orgs/two-factor-policy";
import { validate } from "./validate";

const policyBody = z.object({ requiredForAdmins: z.boolean() });

/** `/api/orgs/:org/two-factor-policy`: whether the organization's admins must sign in with two factors. */
export const twoFactorPolicyRoutes = new Hono<AppEnv>()
  .get("/:org/two-factor-policy", orgAccess("admin", "manage:settings"), async (c) =>
    c.json(await twoFactorPolicyOf(dbOf(c), c.get("org").id)),
  )
  .put(
    "/:org/two-factor-policy",
    orgAccess("admin", "manage:settings"),
    requireSudo,
    validate("json", policyBody),
    async (c) => {
      const { requiredForAdmins } = c.req.valid("json");
      const caller = c.get("caller");
      // Nobody turns on a rule that would shut themselves out on the next request.
      if (requiredForAdmins && caller.type === "user" && !caller.twoFactor) {
        const text = "Turn on two-factor sign-in for your own account first (Your account).";
        throw new AppError("validation_failed", text, { fields: { requiredForAdmins: text } });
      }
      return c.json(await setTwoFactorPolicy(dbOf(c), c.get("org").id, requiredForAdmins, actorOf(c), nowOf(c)));
    },
  );
