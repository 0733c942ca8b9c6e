import type { Actor } from "../audit/events";
import { MAX_CREATOR_CASCADE_DEPTH } from "../limits";
import { log } from "../observability/log";
import { type BulkRevokeEnv, revokeTokensBulk } from "./bulk-revoke";

/**
 * What an admin token made, and the secrets it issued, live only as long as it does (docs/DESIGN.md
 * §6.2): when tokens are revoked, deleted or reported leaked, every live token they made or whose
 * current secret they issued (a regenerate) is revoked too, then what those made, level by level.
 * Otherwise a leaked `manage:tokens` token could mint a copy of itself, or regenerate a person's token
 * with a grace period, and keep a secret that survives its own revocation. Each level is one bulk
 * revoke, audited as `token.revoked` with reason `creator_revoked` or `secret_issuer_revoked`; a chain
 * deeper than the bound is cut and logged (made only by a token making tokens that make tokens, each
 * a step down in rights and lifetime).
 */
export async function revokeWhatTheyMade(
  env: BulkRevokeEnv,
  orgId: string,
  creatorIds: string[],
  actor: Actor,
  now: number,
): Promise<string[]> {
  const revoked: string[] = [];
  let level = creatorIds;
  for (let depth = 0; level.length > 0; depth++) {
    if (depth === MAX_CREATOR_CASCADE_DEPTH) {
      log.error("cache.left_to_expire", { change: "cascade_bound", orgId, creators: level.length });
      break;
    }
    level = (await revokeTokensBulk(env, orgId, { createdBy: level }, actor, now)).revoked;
    revoked.push(...level);
  }
  return revoked;
}
