import { and, eq, ne } from "drizzle-orm";
import type { Db } from "../db/client";
import { sessions, users, userTwoFactor } from "../db/schema";
import { sha256Hex } from "../util/hex";
import {
  SESSION_COOKIE_BYTES,
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  SESSION_TOUCH_INTERVAL_MS,
  SUDO_WINDOW_MS,
} from "./limits";

export interface ActiveSession {
  /** SHA-256 of the cookie value: the row's key. */
  id: string;
  userId: string;
  email: string;
  isOwner: boolean;
  lastSeenAt: number;
  expiresAt: number;
  sudoUntil: number | null;
  /** The person signs in with a second factor (an enabled TOTP). */
  twoFactor: boolean;
}

function randomCookieValue(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SESSION_COOKIE_BYTES));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new session; the cookie value is returned once and only its hash is stored. */
export async function createSession(
  db: Db,
  userId: string,
  meta: { ip: string; userAgent: string | null },
  now: number,
): Promise<{ cookie: string; id: string; expiresAt: number }> {
  const cookie = randomCookieValue();
  const id = await sha256Hex(cookie);
  const expiresAt = now + SESSION_MAX_MS;
  await db.insert(sessions).values({
    id,
    userId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
    sudoUntil: null,
    ip: meta.ip,
    userAgent: meta.userAgent?.slice(0, 300) ?? null,
  });
  return { cookie, id, expiresAt };
}

/** The live session behind a cookie value, or null when it is unknown, idle too long or past its cap. */
export async function findSession(db: Db, cookie: string, now: number): Promise<ActiveSession | null> {
  if (cookie.length === 0 || cookie.length > 100) return null;
  const id = await sha256Hex(cookie);
  const row = await db
    .select({
      id: sessions.id,
      userId: sessions.userId,
      email: users.email,
      isOwner: users.isOwner,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
      sudoUntil: sessions.sudoUntil,
      twoFactorSince: userTwoFactor.enabledAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(userTwoFactor, eq(userTwoFactor.userId, sessions.userId))
    .where(eq(sessions.id, id))
    .get();
  if (!row) return null;
  if (now >= row.expiresAt || now - row.lastSeenAt >= SESSION_IDLE_MS) return null;
  const { twoFactorSince, ...session } = row;
  return { ...session, twoFactor: twoFactorSince !== null };
}

export const touchDue = (session: ActiveSession, now: number) => now - session.lastSeenAt >= SESSION_TOUCH_INTERVAL_MS;

export async function touchSession(db: Db, id: string, now: number): Promise<void> {
  await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, id));
}

/** Ends the session a cookie names (logout, or the old session on a new login). */
export async function deleteSessionByCookie(db: Db, cookie: string): Promise<void> {
  if (cookie.length === 0 || cookie.length > 100) return;
  await db.delete(sessions).where(eq(sessions.id, await sha256Hex(cookie)));
}

export async function grantSudo(db: Db, sessionId: string, now: number): Promise<number> {
  const sudoUntil = now + SUDO_WINDOW_MS;
  await db.update(sessions).set({ sudoUntil, lastSeenAt: now }).where(eq(sessions.id, sessionId));
  return sudoUntil;
}

/** After a password change every other session of the user ends. */
export async function endOtherSessions(db: Db, userId: string, keepId: string | null): Promise<void> {
  const where =
    keepId === null ? eq(sessions.userId, userId) : and(eq(sessions.userId, userId), ne(sessions.id, keepId));
  await db.delete(sessions).where(where);
}
