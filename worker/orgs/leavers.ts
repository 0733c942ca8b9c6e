import type { Actor } from "../audit/events";
import { revokeTokensBulk } from "../tokens/bulk-revoke";
import type { TokenStoreEnv } from "../tokens/store";

/**
 * People who no longer belong to the organization lose their personal tokens there (revoked in bulk, each
 * audited, the cache entries of the most recently used rewritten at once): a token must not outlive its
 * holder's membership. Whether each person still belongs is decided in the revoke's own transaction.
 */
export async function revokeTokensOfLeavers(
  env: TokenStoreEnv,
  orgId: string,
  userIds: string[],
  actor: Actor,
  now: number,
): Promise<number> {
  if (userIds.length === 0) return 0;
  const report = await revokeTokensBulk(env, orgId, { leavers: userIds }, actor, now);
  return report.revoked.length;
}
