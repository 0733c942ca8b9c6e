import type { Context } from "hono";
import { type Confirmation, checkPassword, type PasswordAttempt } from "../../accounts/login";
import { userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { withRetryAfter } from "./throttled";

/**
 * The signed-in caller proves it is them: their password, and a second factor where one is asked,
 * counted on the session's confirmation throttle, so a stolen cookie alone gets no further
 * (docs/DESIGN.md §5).
 */
export async function confirmCaller(
  c: Context<AppEnv>,
  purpose: Confirmation,
  password: string,
  secondFactor?: PasswordAttempt["secondFactor"],
): Promise<void> {
  const caller = userOf(c);
  const attempt = { purpose, email: caller.email, password, ip: c.get("clientIp"), sessionId: caller.sessionId };
  await withRetryAfter(c, checkPassword(dbOf(c), { ...attempt, secondFactor }, nowOf(c)));
}
