import { and, eq, gt, ne, sql } from "drizzle-orm";
import { type Actor, auditInsert, writeAudit } from "../audit/events";
import type { Db } from "../db/client";
import { sessions } from "../db/schema";
import { AppError } from "../errors";
import { SESSION_IDLE_MS, SESSION_PUBLIC_ID_CHARS } from "./limits";

// A person's own sessions, as the account page lists them. A session's key is the SHA-256 of its
// cookie; the API names a session by the first SESSION_PUBLIC_ID_CHARS of that hash, never the
// cookie or the whole key, and only ever among the caller's own sessions.

export interface SessionView {
  id: string;
  current: boolean;
  ip: string | null;
  /** "Chrome on Linux": a summary of the stored user agent, or null. */
  device: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export const publicSessionId = (key: string) => key.slice(0, SESSION_PUBLIC_ID_CHARS);

const BROWSERS: [RegExp, string][] = [
  [/Edg\//, "Edge"],
  [/OPR\/|Opera/, "Opera"],
  [/Firefox\//, "Firefox"],
  [/Chrome\/|CriOS\//, "Chrome"],
  [/Safari\//, "Safari"],
  [/curl\//, "curl"],
];
const SYSTEMS: [RegExp, string][] = [
  [/Android/, "Android"],
  [/iPhone|iPad|iOS/, "iOS"],
  [/Windows/, "Windows"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/CrOS/, "ChromeOS"],
  [/Linux/, "Linux"],
];

/** A person reads "Firefox on Windows", not a 200-character header. */
export function deviceOf(userAgent: string | null): string | null {
  if (!userAgent) return null;
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? userAgent.slice(0, 60);
}

/** The user's live sessions, most recently active first. */
export async function listSessions(db: Db, userId: string, currentKey: string, now: number): Promise<SessionView[]> {
  const rows = await db
    .select()
    .from(sessions)
    .where(
      and(eq(sessions.userId, userId), gt(sessions.expiresAt, now), gt(sessions.lastSeenAt, now - SESSION_IDLE_MS)),
    )
    .orderBy(sql`${sessions.lastSeenAt} DESC`);
  return rows.map((r) => ({
    id: publicSessionId(r.id),
    current: r.id === currentKey,
    ip: r.ip,
    device: deviceOf(r.userAgent),
    createdAt: new Date(r.createdAt).toISOString(),
    lastSeenAt: new Date(r.lastSeenAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
  }));
}

/** Ends one of the user's other sessions; 404 for an id that is not one of theirs (or is the current one). */
export async function endSession(
  db: Db,
  userId: string,
  currentKey: string,
  publicId: string,
  actor: Actor,
  now: number,
): Promise<void> {
  const deleted = await db
    .delete(sessions)
    .where(
      and(
        eq(sessions.userId, userId),
        ne(sessions.id, currentKey),
        sql`substr(${sessions.id}, 1, ${SESSION_PUBLIC_ID_CHARS}) = ${publicId}`,
      ),
    )
    .returning({ id: sessions.id });
  if (deleted.length === 0) throw new AppError("not_found", "No such session among your other sessions.");
  await writeAudit(
    db,
    actor,
    { orgId: null, action: "session.revoked", targetType: "user", targetId: userId, detail: { session: publicId } },
    now,
  );
}

/** Ends every session of the user but the current one; answers how many ended. */
export async function endOtherSessionsOf(
  db: Db,
  userId: string,
  currentKey: string,
  actor: Actor,
  now: number,
): Promise<number> {
  const [deleted] = await db.batch([
    db
      .delete(sessions)
      .where(and(eq(sessions.userId, userId), ne(sessions.id, currentKey)))
      .returning({ id: sessions.id }),
    auditInsert(
      db,
      actor,
      { orgId: null, action: "session.others_revoked", targetType: "user", targetId: userId },
      now,
    ),
  ]);
  return deleted.length;
}
