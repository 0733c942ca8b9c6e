import { type Actor, writeAudit } from "../audit/events";
import type { Db } from "../db/client";
import { AppError } from "../errors";
import { verifyPassword } from "./password";
import { clearLoginFailures, loginRetryAfter, recordLoginFailure, throttleKeys } from "./throttle";
import { findUserByEmail, normalizeEmail, storedPassword, type UserRow } from "./users";

function throttled(retryAfterMs: number): AppError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new AppError("rate_limited", `Too many failed attempts; try again in ${Math.ceil(seconds / 60)} minute(s).`, { retryAfter: seconds });
}

/**
 * Checks an email and password under the failed-attempt throttle (per email and per client address).
 * While either counter is over its limit the password is not even tried. Failures are audited
 * with the email, never the password.
 */
export async function checkPassword(
  db: Db,
  input: { email: string; password: string; ip: string; purpose: "login" | "sudo" | "password_change" },
  now: number,
): Promise<UserRow> {
  const email = normalizeEmail(input.email);
  const keys = throttleKeys(email, input.ip);
  const wait = await loginRetryAfter(db, [keys.email, keys.ip], now);
  if (wait > 0) throw throttled(wait);
  const user = await findUserByEmail(db, email);
  const ok = await verifyPassword(input.password, user ? storedPassword(user) : null);
  if (!ok || !user) {
    await recordLoginFailure(db, [keys.email, keys.ip], now);
    const actor: Actor = { type: "user", id: user?.id ?? null, ip: input.ip };
    await writeAudit(db, actor, { orgId: null, action: `${input.purpose === "login" ? "session.login" : `session.${input.purpose}`}_failed`, targetType: "user", targetId: user?.id ?? null, detail: { email } }, now);
    if (input.purpose === "login") throw new AppError("unauthenticated", "The email or password is not correct.");
    throw new AppError("forbidden", "The password is not correct.");
  }
  await clearLoginFailures(db, keys.email);
  return user;
}
