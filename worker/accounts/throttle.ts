import { eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { loginThrottle } from "../db/schema";
import { LOGIN_MAX_FAILURES_PER_EMAIL, LOGIN_MAX_FAILURES_PER_IP, LOGIN_WINDOW_MS } from "./limits";

/** The counters a password attempt is charged to: its email and its client address. */
export function throttleKeys(email: string, ip: string): { email: string; ip: string } {
  return { email: `email:${email}`, ip: `ip:${ip}` };
}

const limitOf = (key: string) => (key.startsWith("ip:") ? LOGIN_MAX_FAILURES_PER_IP : LOGIN_MAX_FAILURES_PER_EMAIL);

/** Milliseconds until the attempt may be tried again, or 0 when no counter is over its limit. */
export async function loginRetryAfter(db: Db, keys: string[], now: number): Promise<number> {
  const rows = await db.select().from(loginThrottle).where(inArray(loginThrottle.key, keys));
  let wait = 0;
  for (const row of rows) {
    const windowEnd = row.windowStart + LOGIN_WINDOW_MS;
    if (now < windowEnd && row.failures >= limitOf(row.key)) wait = Math.max(wait, windowEnd - now);
  }
  return wait;
}

/** One failure on each key, in a fixed window that restarts once it has passed. */
export async function recordLoginFailure(db: Db, keys: string[], now: number): Promise<void> {
  const windowOver = sql`${loginThrottle.windowStart} <= ${now - LOGIN_WINDOW_MS}`;
  for (const key of keys) {
    await db
      .insert(loginThrottle)
      .values({ key, windowStart: now, failures: 1 })
      .onConflictDoUpdate({
        target: loginThrottle.key,
        set: {
          failures: sql`CASE WHEN ${windowOver} THEN 1 ELSE ${loginThrottle.failures} + 1 END`,
          windowStart: sql`CASE WHEN ${windowOver} THEN ${now} ELSE ${loginThrottle.windowStart} END`,
        },
      });
  }
}

/** A success clears the email's counter; the address's stays, so one good account cannot launder a spray. */
export async function clearLoginFailures(db: Db, key: string): Promise<void> {
  await db.delete(loginThrottle).where(eq(loginThrottle.key, key));
}
