import type { TokenRow } from "./views";

/** Verifications refused since the token stopped verifying: what still holds its dead secret, and from where. */
export interface DeadAttempts {
  count: number;
  /** When the token stopped verifying: the earliest of its revocation, expiry and disabling. */
  since: string;
  lastAt: string;
  lastIp: string | null;
}

type DeathFields = Pick<
  TokenRow,
  "revokedAt" | "expiresAt" | "disabledAt" | "deadAttempts" | "deadAttemptAt" | "deadAttemptIp"
>;

/** The instant the token stopped verifying, or null while it verifies (the twin of the usage write's SQL). */
export function diedAt(t: Pick<TokenRow, "revokedAt" | "expiresAt" | "disabledAt">, now: number): number | null {
  const instants = [t.revokedAt, t.expiresAt !== null && t.expiresAt <= now ? t.expiresAt : null, t.disabledAt];
  const known = instants.filter((at): at is number => at !== null);
  return known.length === 0 ? null : Math.min(...known);
}

/** Null for a token that verifies, or that nobody tried since it stopped (counts from an earlier death do not show). */
export function deadAttemptsOf(t: DeathFields, now: number): DeadAttempts | null {
  const died = diedAt(t, now);
  if (died === null || t.deadAttempts === 0 || t.deadAttemptAt === null || t.deadAttemptAt < died) return null;
  return {
    count: t.deadAttempts,
    since: new Date(died).toISOString(),
    lastAt: new Date(t.deadAttemptAt).toISOString(),
    lastIp: t.deadAttemptIp,
  };
}
