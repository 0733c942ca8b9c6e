import { type Actor, writeAudit } from "../audit/events";
import type { Db } from "../db/client";
import { AppError } from "../errors";
import { networkOf } from "../http/network";
import { verifyPassword } from "./password";
import { confirmationCharge, settleSuccess, signInCharge, takeAttempt } from "./throttle";
import { findUserByEmail, normalizeEmail, storedPassword, type UserRow } from "./users";

/** A sign-in is charged to the email and the client's network; a confirmation to the session it confirms. */
export type PasswordAttempt =
  | { purpose: "login"; email: string; password: string; ip: string }
  | { purpose: "sudo" | "password_change"; email: string; password: string; ip: string; sessionId: string };

function throttled(retryAfterMs: number): AppError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new AppError("rate_limited", `Too many failed attempts; try again in ${Math.ceil(seconds / 60)} minute(s).`, {
    retryAfter: seconds,
  });
}

/**
 * Checks an email and password under the attempt throttle. The attempt is counted before the
 * password is hashed, so a counter at its limit refuses without the check running, however many
 * attempts arrive at once; the right password gives its attempt back. Failures are audited with
 * the email, never the password.
 */
export async function checkPassword(db: Db, input: PasswordAttempt, now: number): Promise<UserRow> {
  const email = normalizeEmail(input.email);
  const charge =
    input.purpose === "login" ? signInCharge(email, networkOf(input.ip)) : confirmationCharge(input.sessionId);
  const wait = await takeAttempt(db, charge.counters, now);
  if (wait > 0) throw throttled(wait);
  const user = await findUserByEmail(db, email);
  const ok = await verifyPassword(input.password, user ? storedPassword(user) : null);
  if (!ok || !user) {
    const actor: Actor = { type: "user", id: user?.id ?? null, ip: input.ip };
    await writeAudit(
      db,
      actor,
      {
        orgId: null,
        action: `${input.purpose === "login" ? "session.login" : `session.${input.purpose}`}_failed`,
        targetType: "user",
        targetId: user?.id ?? null,
        detail: { email },
      },
      now,
    );
    if (input.purpose === "login") throw new AppError("unauthenticated", "The email or password is not correct.");
    throw new AppError("forbidden", "The password is not correct.");
  }
  await settleSuccess(db, charge, now);
  return user;
}
