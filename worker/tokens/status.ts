import { EXPIRING_WINDOW_MS } from "../limits";

export const TOKEN_STATUSES = ["active", "expiring", "expired", "disabled", "revoked"] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];

export interface StatusFields {
  expiresAt: number | null;
  disabledAt: number | null;
  revokedAt: number | null;
}

/** Derived on every read from the fields and the clock, so it is never stale. Death outranks suspension. */
export function tokenStatus(t: StatusFields, now: number): TokenStatus {
  if (t.revokedAt !== null) return "revoked";
  if (t.expiresAt !== null && now >= t.expiresAt) return "expired";
  if (t.disabledAt !== null) return "disabled";
  if (t.expiresAt !== null && t.expiresAt - now < EXPIRING_WINDOW_MS) return "expiring";
  return "active";
}
