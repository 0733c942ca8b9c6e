import { and, eq, isNull } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import type { Db } from "../db/client";
import { passwordResets, users } from "../db/schema";
import { hashPassword, type PasswordHash } from "./password";

export type UserRow = typeof users.$inferSelect;

export interface UserView {
  id: string;
  email: string;
  name: string;
  isOwner: boolean;
  createdAt: string;
}

export const userView = (u: UserRow): UserView => ({
  id: u.id,
  email: u.email,
  name: u.name,
  isOwner: u.isOwner,
  createdAt: new Date(u.createdAt).toISOString(),
});

/** Emails compare case-insensitively: stored and looked up in lower case. */
export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export const storedPassword = (u: UserRow): PasswordHash => ({
  hash: u.passwordHash,
  salt: u.passwordSalt,
  iterations: u.passwordIterations,
});

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | null> {
  return (
    (await db
      .select()
      .from(users)
      .where(eq(users.email, normalizeEmail(email)))
      .get()) ?? null
  );
}

export async function findUserById(db: Db, id: string): Promise<UserRow | null> {
  return (await db.select().from(users).where(eq(users.id, id)).get()) ?? null;
}

/** A user row ready to insert: the password is hashed here and never kept in any other form. */
export async function newUserRow(
  input: { email: string; name: string; password: string; isOwner: boolean },
  now: number,
): Promise<UserRow> {
  const pw = await hashPassword(input.password);
  return {
    id: crypto.randomUUID(),
    email: normalizeEmail(input.email),
    name: input.name,
    passwordHash: pw.hash,
    passwordSalt: pw.salt,
    passwordIterations: pw.iterations,
    isOwner: input.isOwner,
    createdAt: now,
    updatedAt: now,
  };
}

export async function changePassword(
  db: Db,
  userId: string,
  password: string,
  actor: Actor,
  now: number,
): Promise<void> {
  const pw = await hashPassword(password);
  await db.batch([
    db
      .update(users)
      .set({ passwordHash: pw.hash, passwordSalt: pw.salt, passwordIterations: pw.iterations, updatedAt: now })
      .where(eq(users.id, userId)),
    // A reset link still waiting may have leaked; the person has just chosen their password themselves.
    db
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt))),
    auditInsert(db, actor, { orgId: null, action: "user.password_changed", targetType: "user", targetId: userId }, now),
  ]);
}
