import type { Context } from "hono";
import { type Confirmation, checkPassword } from "../../accounts/login";
import { checkSecondFactor } from "../../accounts/two-factor";
import { userOf } from "../../auth/guards";
import type { AppEnv } from "../../env";
import { dbOf, nowOf } from "../../http/context";
import { withRetryAfter } from "./throttled";

/**
 * The signed-in caller proves it is them: their password, and with `second` a code from their app or a
 * recovery code (`enrolling`: the code of the factor being set up), counted on the session's
 * confirmation throttle, so a stolen cookie alone gets no further (docs/DESIGN.md §5).
 */
export async function confirmCaller(
  c: Context<AppEnv>,
  purpose: Confirmation,
  password: string,
  second?: { code: string | undefined; enrolling?: boolean },
): Promise<void> {
  const caller = userOf(c);
  const db = dbOf(c);
  const now = nowOf(c);
  const secondFactor =
    second && (() => checkSecondFactor(db, c.env.TOKEN_PEPPER, caller.userId, second.code, now, second.enrolling));
  const attempt = { purpose, email: caller.email, password, ip: c.get("clientIp"), sessionId: caller.sessionId };
  await withRetryAfter(c, checkPassword(db, { ...attempt, secondFactor }, now));
}
