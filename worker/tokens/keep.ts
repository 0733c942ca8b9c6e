import { and, eq, isNull } from "drizzle-orm";
import { type Actor, auditInsert } from "../audit/events";
import { database } from "../db/client";
import { tokens } from "../db/schema";
import type { D1 } from "../db/session";
import { requireNotRevoked, requireToken, revokedTokenError } from "./store";
import { type TokenView, tokenView } from "./views";

/**
 * "Keep" (docs/CRON.md, "Purge warnings"): a person says an idle token is still wanted. It counts as a use:
 * `last_used_at` moves to now, so the 60-day purge counts from here and the next idle period gets its own
 * warning. Nothing the cache holds changes (it keeps no use times), so no entry is rewritten; a purge racing
 * with it re-checks the last use in its delete and leaves the token.
 */
export async function keepToken(
  env: { d1: D1 },
  orgId: string,
  tokenId: string,
  actor: Actor,
  now: number,
): Promise<TokenView> {
  const db = database(env.d1);
  const row = await requireToken(db, orgId, tokenId);
  requireNotRevoked(row);
  const [kept] = await db.batch([
    db
      .update(tokens)
      .set({ lastUsedAt: now })
      .where(and(eq(tokens.id, row.id), isNull(tokens.revokedAt)))
      .returning({ id: tokens.id }),
    auditInsert(
      db,
      actor,
      {
        orgId,
        action: "token.kept",
        targetType: "token",
        targetId: row.id,
        detail: { name: row.name, lastUsedAt: row.lastUsedAt },
      },
      now,
    ),
  ]);
  // Revoked since the read: the event stays (it records the ask), the row does not change.
  if (kept.length === 0) throw revokedTokenError();
  return tokenView(db, { ...row, lastUsedAt: now }, now);
}
