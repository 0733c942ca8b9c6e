import { and, eq, isNull } from "drizzle-orm";
import type { Actor } from "../audit/events";
import { database } from "../db/client";
import { memberships, tokens } from "../db/schema";
import { revokeTokens, type TokenStoreEnv } from "../tokens/store";

/**
 * People who no longer belong to the organization lose their personal tokens there (revoked, each
 * audited and its cache entry overwritten): a token must not outlive its holder's membership.
 */
export async function revokeTokensOfLeavers(env: TokenStoreEnv, orgId: string, userIds: string[], actor: Actor, now: number): Promise<number> {
  const db = database(env.DB);
  let revoked = 0;
  for (const userId of new Set(userIds)) {
    const stillMember = await db.select({ id: memberships.id }).from(memberships).where(and(eq(memberships.userId, userId), eq(memberships.orgId, orgId))).get();
    if (stillMember) continue;
    const owned = await db
      .select({ id: tokens.id })
      .from(tokens)
      .where(and(eq(tokens.orgId, orgId), eq(tokens.userId, userId), eq(tokens.kind, "personal"), isNull(tokens.revokedAt)));
    if (owned.length === 0) continue;
    const result = await revokeTokens(env, orgId, owned.map((t) => t.id), actor, now);
    revoked += result.revoked.length;
  }
  return revoked;
}
