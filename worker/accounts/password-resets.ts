import { and, eq, gt, isNull } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import type { Db } from "../db/client";
import { passwordResets, sessions, users } from "../db/schema";
import { AppError } from "../errors";
import { PASSWORD_RESET_TTL_MS } from "./limits";
import { isLinkSecret, linkSecretHash, newLinkSecret } from "./link-secret";
import { hashPassword } from "./password";
import { findUserById } from "./users";

/*
 * Nobody sets another person's password. For a lost one the instance owner issues a one-time link
 * (`tsr_`, shown once, stored as its SHA-256) and its holder chooses the new password; every
 * session of the account ends with it.
 */

export const PASSWORD_RESET_PREFIX = "tsr_";

const linkInvalid = () =>
  new AppError(
    "not_found",
    "This password reset link is not valid: it may have expired or been used already. Ask the instance owner for a new one.",
  );

const iso = (ms: number) => new Date(ms).toISOString();

/** A new link for `userId`; any earlier unused link of theirs stops working. The secret is returned once. */
export async function issuePasswordReset(
  db: Db,
  userId: string,
  actor: Actor,
  now: number,
): Promise<{ secret: string; expiresAt: string }> {
  const user = await findUserById(db, userId);
  if (!user) throw new AppError("not_found", "No such user.");
  const secret = newLinkSecret(PASSWORD_RESET_PREFIX);
  const id = crypto.randomUUID();
  const expiresAt = now + PASSWORD_RESET_TTL_MS;
  await db.batch([
    db.delete(passwordResets).where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt))),
    db.insert(passwordResets).values({
      id,
      userId,
      secretHash: await linkSecretHash(secret),
      createdBy: `${actor.type}:${actor.id ?? "-"}`,
      createdAt: now,
      expiresAt,
    }),
    auditInsert(
      db,
      actor,
      {
        orgId: null,
        action: "user.password_reset_issued",
        targetType: "user",
        targetId: userId,
        detail: { email: user.email, expiresAt: iso(expiresAt) },
      },
      now,
    ),
  ]);
  return { secret, expiresAt: iso(expiresAt) };
}

async function hashOf(secret: string): Promise<string> {
  if (!isLinkSecret(PASSWORD_RESET_PREFIX, secret)) throw linkInvalid();
  return linkSecretHash(secret);
}

/** Whose password the link resets and until when; the same refusal for unknown, used and expired links. */
export async function previewPasswordReset(
  db: Db,
  secret: string,
  now: number,
): Promise<{ email: string; expiresAt: string }> {
  const row = await db
    .select({ email: users.email, expiresAt: passwordResets.expiresAt })
    .from(passwordResets)
    .innerJoin(users, eq(users.id, passwordResets.userId))
    .where(
      and(
        eq(passwordResets.secretHash, await hashOf(secret)),
        isNull(passwordResets.usedAt),
        gt(passwordResets.expiresAt, now),
      ),
    )
    .get();
  if (!row) throw linkInvalid();
  return { email: row.email, expiresAt: iso(row.expiresAt) };
}

/**
 * Sets the password the link's holder chose and ends every session of the account. The link is
 * claimed first by one conditional update, so two racing uses cannot both set a password; should
 * the write after it fail, the link is spent and the owner issues another (fail closed).
 */
export async function completePasswordReset(
  db: Db,
  secret: string,
  password: string,
  ip: string,
  now: number,
): Promise<void> {
  const hash = await hashOf(secret);
  const pw = await hashPassword(password);
  const claimed = await db
    .update(passwordResets)
    .set({ usedAt: now })
    .where(and(eq(passwordResets.secretHash, hash), isNull(passwordResets.usedAt), gt(passwordResets.expiresAt, now)))
    .returning({ id: passwordResets.id, userId: passwordResets.userId })
    .get();
  if (!claimed) throw linkInvalid();
  await db.batch([
    db
      .update(users)
      .set({ passwordHash: pw.hash, passwordSalt: pw.salt, passwordIterations: pw.iterations, updatedAt: now })
      .where(eq(users.id, claimed.userId)),
    db.delete(sessions).where(eq(sessions.userId, claimed.userId)),
    auditInsert(
      db,
      { type: "user", id: claimed.userId, ip },
      {
        orgId: null,
        action: "user.password_reset",
        targetType: "user",
        targetId: claimed.userId,
        detail: { resetId: claimed.id },
      },
      now,
    ),
  ]);
}
