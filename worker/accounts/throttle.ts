import { and, inArray, lte, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { loginThrottle } from "../db/schema";
import {
  CONFIRM_MAX_FAILURES_PER_SESSION,
  LOGIN_MAX_FAILURES_PER_EMAIL,
  LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK,
  LOGIN_MAX_FAILURES_PER_NETWORK,
  LOGIN_WINDOW_MS,
} from "./limits";

/** One counter a password attempt is charged to, and how many attempts it allows per window. */
export interface Counter {
  key: string;
  limit: number;
}

/** What a password attempt is charged to, and what a success gives back. */
export interface Charge {
  counters: Counter[];
  /** Counters a success empties: the prover's own typos are forgiven. */
  clearOnSuccess: string[];
}

/**
 * A sign-in: per email from this network (what an attacker elsewhere cannot use up), per email
 * overall (the cap on a guesser with many networks) and per network (a spray across emails).
 */
export function signInCharge(email: string, network: string): Charge {
  const own = `email-net:${network}|${email}`;
  return {
    counters: [
      { key: own, limit: LOGIN_MAX_FAILURES_PER_EMAIL_NETWORK },
      { key: `email:${email}`, limit: LOGIN_MAX_FAILURES_PER_EMAIL },
      { key: `net:${network}`, limit: LOGIN_MAX_FAILURES_PER_NETWORK },
    ],
    // The email's and the network's counters keep others' failures: a success only takes its own attempt back.
    clearOnSuccess: [own],
  };
}

/** A confirmation inside a session (sudo, password change): its own counter, so typos never lock sign-in. */
export function confirmationCharge(sessionId: string): Charge {
  const key = `confirm:${sessionId}`;
  return { counters: [{ key, limit: CONFIRM_MAX_FAILURES_PER_SESSION }], clearOnSuccess: [key] };
}

/**
 * Takes one attempt on every counter at once, or on none when any of them is used up: one SQL
 * statement, so parallel attempts cannot all pass a check before any is counted (D1 runs one
 * statement at a time). Windows are fixed and restart once they have passed. Answers, when the
 * attempt was taken, how many more its tightest counter allows in this window (`left`, for the
 * password prompt to say), else the milliseconds until it may be tried again (`retryAfterMs`).
 */
export async function takeAttempt(
  db: Db,
  counters: Counter[],
  now: number,
): Promise<{ retryAfterMs: 0; left: number } | { retryAfterMs: number; left: 0 }> {
  const cutoff = now - LOGIN_WINDOW_MS;
  const attempt = sql.join(
    counters.map((c) => sql`(${c.key}, ${c.limit})`),
    sql`, `,
  );
  const taken = await db.all<{ key: string; failures: number }>(sql`
    WITH attempt(key, lim) AS (VALUES ${attempt})
    INSERT INTO login_throttle (key, window_start, failures)
    SELECT key, ${now}, 1 FROM attempt
    WHERE NOT EXISTS (
      SELECT 1 FROM login_throttle t JOIN attempt a ON a.key = t.key
      WHERE t.window_start > ${cutoff} AND t.failures >= a.lim)
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN login_throttle.window_start <= ${cutoff} THEN 1 ELSE login_throttle.failures + 1 END,
      window_start = CASE WHEN login_throttle.window_start <= ${cutoff} THEN ${now} ELSE login_throttle.window_start END
    RETURNING key, failures`);
  if (taken.length > 0) {
    const left = Math.min(...taken.map((t) => counters.find((c) => c.key === t.key)!.limit - t.failures));
    return { retryAfterMs: 0, left: Math.max(left, 0) };
  }
  return { retryAfterMs: await retryAfter(db, counters, now), left: 0 };
}

async function retryAfter(db: Db, counters: Counter[], now: number): Promise<number> {
  const keys = counters.map((c) => c.key);
  const rows = await db.select().from(loginThrottle).where(inArray(loginThrottle.key, keys));
  let wait = 0;
  for (const row of rows) {
    const limit = counters.find((c) => c.key === row.key)!.limit;
    const windowEnd = row.windowStart + LOGIN_WINDOW_MS;
    if (now < windowEnd && row.failures >= limit) wait = Math.max(wait, windowEnd - now);
  }
  // A window that restarted between the two statements: the attempt may go again at once.
  return Math.max(wait, 1000);
}

/**
 * After the right password: the attempt taken at `attemptedAt` is given back on every counter
 * still in that window, and the prover's own counters are emptied.
 */
export async function settleSuccess(db: Db, charge: Charge, attemptedAt: number): Promise<void> {
  const kept = charge.counters.map((c) => c.key).filter((key) => !charge.clearOnSuccess.includes(key));
  const clear = db.delete(loginThrottle).where(inArray(loginThrottle.key, charge.clearOnSuccess));
  if (kept.length === 0) {
    await clear;
    return;
  }
  const giveBack = db
    .update(loginThrottle)
    .set({ failures: sql`MAX(${loginThrottle.failures} - 1, 0)` })
    .where(and(inArray(loginThrottle.key, kept), lte(loginThrottle.windowStart, attemptedAt)));
  await db.batch([clear, giveBack]);
}
