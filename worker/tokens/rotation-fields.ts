import { sql } from "drizzle-orm";
import { tokens } from "../db/schema";
import type { TokenRow } from "./views";

// The row side of rotation with a grace period (worker/tokens/rotation.ts), apart so the token store can use it.

/** The row's columns a regenerate sets: the secret it replaces kept until `until`, or none. */
export function rotationFields(until: number | null) {
  return {
    // SQLite evaluates every SET expression on the row as it was: this is the hash being replaced.
    oldHash: until === null ? null : sql<string>`${tokens.hash}`,
    oldHashUntil: until,
    oldSecretIssuedBy: until === null ? null : sql<string | null>`${tokens.secretIssuedBy}`,
    oldSecretUsedAt: null,
    oldSecretIps: null,
  };
}

/** Whether the token's replaced secret still verifies now. */
export const inGrace = (row: Pick<TokenRow, "oldHash" | "oldHashUntil" | "revokedAt">, now: number): boolean =>
  row.oldHash !== null && row.oldHashUntil !== null && row.oldHashUntil > now && row.revokedAt === null;
