import { type Actor, writeAudit } from "../audit/events";
import type { Db } from "../db/client";
import { AppError } from "../errors";
import { networkOf } from "../http/network";
import { MINUTE_MS } from "../limits";
import { LOGIN_WINDOW_MS } from "./limits";
import { verifyPassword } from "./password";
import { confirmationCharge, settleSuccess, signInCharge, takeAttempt } from "./throttle";
import type { SecondFactorResult } from "./two-factor";
import { findUserByEmail, normalizeEmail, storedPassword, type UserRow } from "./users";

export type Confirmation = "sudo" | "password_change" | "two_factor";

/**
 * A sign-in is charged to the email and the client's network; a confirmation to the session it confirms.
 * `secondFactor`, run only once the password is right, checks the account's code under the same counters.
 */
export type PasswordAttempt = (
  | { purpose: "login"; email: string; password: string; ip: string }
  | { purpose: Confirmation; email: string; password: string; ip: string; sessionId: string }
) & { secondFactor?: (user: UserRow) => Promise<SecondFactorResult> };

/** "1 minute", "15 minutes": what a person reads in a refusal. */
export const minutesInWords = (ms: number) => {
  const minutes = Math.max(1, Math.ceil(ms / MINUTE_MS));
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
};

function throttled(retryAfterMs: number): AppError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new AppError("rate_limited", `Too many failed attempts; try again in ${minutesInWords(retryAfterMs)}.`, {
    retryAfter: seconds,
  });
}

/**
 * A wrong password in a confirmation: the field's error, and how many tries this session has left
 * before confirmations pause (`attemptsLeft`, for the prompt to say). Sign-in never says: that would
 * tell a guesser how far the counters are.
 */
function wrongConfirmation(purpose: Confirmation, left: number, what = "password", field?: string): AppError {
  const tries = left === 1 ? "1 try" : `${left} tries`;
  const text =
    left === 0
      ? `The ${what} is not correct. Confirmations are paused for ${minutesInWords(LOGIN_WINDOW_MS)}; signing in again is not affected.`
      : `The ${what} is not correct. ${tries} left before confirmations pause for ${minutesInWords(LOGIN_WINDOW_MS)}.`;
  return new AppError("forbidden", text, {
    attemptsLeft: left,
    fields: { [field ?? (purpose === "password_change" ? "currentPassword" : "password")]: text },
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
  const attempt = await takeAttempt(db, charge.counters, now);
  if (attempt.retryAfterMs > 0) throw throttled(attempt.retryAfterMs);
  const user = await findUserByEmail(db, email);
  const ok = await verifyPassword(input.password, user ? storedPassword(user) : null);
  // A wrong code keeps its attempt, as a wrong password does: guessing codes costs the same counters.
  const second = ok && user && input.secondFactor ? await input.secondFactor(user) : null;
  const codeWrong = second !== null && !second.ok && !second.missing;
  if (!ok || !user || codeWrong) {
    const actor: Actor = { type: "user", id: user?.id ?? null, ip: input.ip };
    await writeAudit(
      db,
      actor,
      {
        orgId: null,
        action: `session.${input.purpose === "login" ? "login" : input.purpose}_failed`,
        targetType: "user",
        targetId: user?.id ?? null,
        detail: codeWrong ? { email, factor: "code" } : { email },
      },
      now,
    );
    if (input.purpose === "login") {
      throw new AppError("unauthenticated", `The ${codeWrong ? "code" : "email or password"} is not correct.`);
    }
    throw codeWrong
      ? wrongConfirmation(input.purpose, attempt.left, "code", "code")
      : wrongConfirmation(input.purpose, attempt.left);
  }
  await settleSuccess(db, charge, now);
  if (second && !second.ok) throw codeMissing(input.purpose);
  if (second?.ok && second.via === "recovery") {
    await writeAudit(
      db,
      { type: "user", id: user.id, ip: input.ip },
      { orgId: null, action: "user.recovery_code_used", targetType: "user", targetId: user.id },
      now,
    );
  }
  return user;
}

/** The password was right but the account has a second factor: sign-in asks for it, a confirmation names the field. */
function codeMissing(purpose: PasswordAttempt["purpose"]): AppError {
  const text = "Enter the 6-digit code from your authenticator app, or a recovery code.";
  if (purpose === "login") return new AppError("two_factor_code_required", text);
  return new AppError("validation_failed", text, { fields: { code: text } });
}
