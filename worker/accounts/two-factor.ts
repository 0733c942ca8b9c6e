import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import type { Db } from "../db/client";
import { recoveryCodes, userTwoFactor } from "../db/schema";
import { AppError } from "../errors";
import { sha256Hex } from "../util/hex";
import { RECOVERY_CODE_CHARS, RECOVERY_CODE_COUNT, TOTP_DIGITS, TOTP_ENROLL_TTL_MS, TOTP_SECRET_BYTES } from "./limits";
import { base32Encode, matchStep, otpauthUri } from "./totp";
import { openSecret, sealSecret } from "./totp-seal";

// A person's second factor (docs/DESIGN.md §5, "Two-factor sign-in"): enrollment, the check at sign-in
// and confirmations, recovery codes. The password is always checked first, by worker/accounts/login.ts,
// under its throttle; nothing here answers without it.

export interface TwoFactorState {
  enabled: boolean;
  recoveryCodesLeft: number;
}

/** Right (and by which factor), wrong, or not sent when the account needs one. */
export type SecondFactorResult = { ok: true; via: "totp" | "recovery" | "none" } | { ok: false; missing: boolean };

export async function twoFactorState(db: Db, userId: string): Promise<TwoFactorState> {
  const row = await db
    .select({
      enabledAt: userTwoFactor.enabledAt,
      left: sql<number>`(SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = ${userId} AND r.used_at IS NULL)`,
    })
    .from(userTwoFactor)
    .where(eq(userTwoFactor.userId, userId))
    .get();
  return row?.enabledAt ? { enabled: true, recoveryCodesLeft: row.left } : { enabled: false, recoveryCodesLeft: 0 };
}

/**
 * A new secret waiting for its first code (any earlier unfinished one is replaced). Answers the secret
 * this once, as base32 and as an otpauth:// URI; from then on only its seal is stored.
 */
export async function startEnrollment(
  db: Db,
  pepper: string,
  user: { id: string; email: string },
  now: number,
): Promise<{ secret: string; uri: string; expiresAt: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES));
  const sealed = await sealSecret(pepper, user.id, bytes);
  const row = { userId: user.id, secretSealed: sealed, createdAt: now, enabledAt: null, lastStep: 0 };
  // An enabled factor is never replaced here: turning it off needs the password and a code.
  const written = await db
    .insert(userTwoFactor)
    .values(row)
    .onConflictDoUpdate({ target: userTwoFactor.userId, set: row, setWhere: isNull(userTwoFactor.enabledAt) })
    .returning({ userId: userTwoFactor.userId });
  if (written.length === 0) throw new AppError("conflict", "Two-factor sign-in is already on for your account.");
  const secret = base32Encode(bytes);
  return { secret, uri: otpauthUri(secret, user.email), expiresAt: new Date(now + TOTP_ENROLL_TTL_MS).toISOString() };
}

const normalizeRecovery = (code: string) => code.toLowerCase().replace(/[\s-]/g, "");
const isTotpCode = (code: string) => new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code);

/**
 * Checks `code` (a TOTP code, or a recovery code when `enrolling` is false) for `userId`. A TOTP
 * code's step is claimed with one conditional UPDATE and a recovery code is spent the same way, so two
 * requests racing with the same code cannot both pass. `enrolling` checks the unfinished enrollment's
 * secret instead of the enabled one.
 */
export async function checkSecondFactor(
  db: Db,
  pepper: string,
  userId: string,
  code: string | undefined,
  now: number,
  enrolling = false,
): Promise<SecondFactorResult> {
  const row = await db.select().from(userTwoFactor).where(eq(userTwoFactor.userId, userId)).get();
  if (enrolling) {
    if (!row || row.enabledAt !== null || now - row.createdAt >= TOTP_ENROLL_TTL_MS) {
      throw new AppError("conflict", "There is no two-factor setup in progress; start again.");
    }
  } else if (!row || row.enabledAt === null) {
    return { ok: true, via: "none" };
  }
  const typed = code?.trim().replace(/\s/g, "") ?? "";
  if (typed === "") return { ok: false, missing: true };
  if (isTotpCode(typed)) {
    // A seal this pepper cannot open (TOKEN_PEPPER rotated) matches no code: recovery codes, kept as
    // hashes, still sign in, and turn the factor off so it can be enrolled again.
    const secret = await openSecret(pepper, userId, row.secretSealed);
    if (!secret) return { ok: false, missing: false };
    const step = await matchStep(secret, typed, now, row.lastStep);
    if (step === null) return { ok: false, missing: false };
    const claimed = await db
      .update(userTwoFactor)
      .set({ lastStep: step })
      .where(and(eq(userTwoFactor.userId, userId), lt(userTwoFactor.lastStep, step)))
      .returning({ userId: userTwoFactor.userId });
    return claimed.length > 0 ? { ok: true, via: "totp" } : { ok: false, missing: false };
  }
  if (enrolling) return { ok: false, missing: false };
  const spent = await db
    .update(recoveryCodes)
    .set({ usedAt: now })
    .where(
      and(
        eq(recoveryCodes.userId, userId),
        eq(recoveryCodes.codeHash, await sha256Hex(normalizeRecovery(typed))),
        isNull(recoveryCodes.usedAt),
      ),
    )
    .returning({ userId: recoveryCodes.userId });
  return spent.length > 0 ? { ok: true, via: "recovery" } : { ok: false, missing: false };
}

function newRecoveryCode(): string {
  const raw = base32Encode(crypto.getRandomValues(new Uint8Array(7)))
    .toLowerCase()
    .slice(0, RECOVERY_CODE_CHARS);
  return `${raw.slice(0, 5)}-${raw.slice(5)}`;
}

/** New recovery codes replacing every old one; the codes are answered here once, only their hashes kept. */
async function recoveryCodeRows(userId: string, now: number) {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const rows = await Promise.all(
    codes.map(async (code) => ({ userId, codeHash: await sha256Hex(normalizeRecovery(code)), createdAt: now })),
  );
  return { codes, rows };
}

/** Turns the enrolled factor on (its first code was right) with a fresh set of recovery codes. */
export async function enableTwoFactor(db: Db, userId: string, actor: Actor, now: number): Promise<string[]> {
  const { codes, rows } = await recoveryCodeRows(userId, now);
  await db.batch([
    db.update(userTwoFactor).set({ enabledAt: now }).where(eq(userTwoFactor.userId, userId)),
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    db.insert(recoveryCodes).values(rows),
    auditInsert(
      db,
      actor,
      { orgId: null, action: "user.two_factor_enabled", targetType: "user", targetId: userId },
      now,
    ),
  ]);
  return codes;
}

export async function regenerateRecoveryCodes(db: Db, userId: string, actor: Actor, now: number): Promise<string[]> {
  const { codes, rows } = await recoveryCodeRows(userId, now);
  await db.batch([
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    db.insert(recoveryCodes).values(rows),
    auditInsert(
      db,
      actor,
      { orgId: null, action: "user.recovery_codes_regenerated", targetType: "user", targetId: userId },
      now,
    ),
  ]);
  return codes;
}

export async function disableTwoFactor(db: Db, userId: string, actor: Actor, now: number): Promise<void> {
  await db.batch([
    db.delete(userTwoFactor).where(eq(userTwoFactor.userId, userId)),
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    auditInsert(
      db,
      actor,
      { orgId: null, action: "user.two_factor_disabled", targetType: "user", targetId: userId },
      now,
    ),
  ]);
}
