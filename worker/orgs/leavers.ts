import type { Actor } from "../audit/events";
import type { Statement } from "../db/batch";
import { revokeTokensBulk } from "../tokens/bulk-revoke";
import type { TokenStoreEnv } from "../tokens/store";

/**
 * People who no longer belong to the organization lose their personal tokens there (revoked in bulk, each
 * audited, the cache entries of the most recently used rewritten at once): a token must not outlive its
 * holder's membership. Whether each person still belongs is decided in the revoke's own transaction, after
 * `change` (the membership's removal, say), which commits with it.
 */
export async function revokeTokensOfLeavers(
  env: TokenStoreEnv,
  orgId: string,
  userIds: string[],
  actor: Actor,
  now: number,
  change: Statement[] = [],
): Promise<number> {
  if (userIds.length === 0 && change.length === 0) return 0;
  const report = await revokeTokensBulk(env, orgId, { leavers: userIds }, actor, now, change);
  return report.revoked.length;
}
