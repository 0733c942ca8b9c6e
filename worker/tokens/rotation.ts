import { type Actor, logAudited } from "../audit/events";
import { database } from "../db/client";
import { AppError } from "../errors";
import { overwriteTokenCache } from "./cache";
import { inGrace } from "./rotation-fields";
import { refreshCache, requireToken, type TokenStoreEnv } from "./store";
import { type TokenView, tokenView } from "./views";

/*
 * Rotation with a grace period (docs/DESIGN.md §2, docs/API.md "Regenerate"). A regenerate with
 * `graceSeconds` keeps the replaced secret's hash in `old_hash` until `old_hash_until`: that hash has its
 * own cache entry, the token's entry marked `oldSecretUntil`, so both secrets verify and the old one's
 * answers say so. Verify refuses it once the clock passes `until`, whatever is cached, so the time-based
 * end needs no job to be safe; the cron's `grace` job (worker/cron/grace.ts) later clears the dead hash
 * from the row. Ending it sooner (End grace now, another regenerate, delete) buries its hash as a
 * regenerate buries a replaced secret: an entry saying "no such token" at the change's version, newer
 * than anything a slow fill could bring; every other change (disable, revoke, edit, a membership change)
 * rewrites the old secret's entry with the token's, since both name the same row.
 */

/**
 * End grace now: the replaced secret stops verifying at once here and within the revocation bound
 * everywhere (docs/DESIGN.md §3.1). The event and the change are made only if the row still has that
 * old secret in their own transaction, so two racing ends record one event.
 */
export async function endGrace(
  env: TokenStoreEnv,
  orgId: string,
  tokenId: string,
  actor: Actor,
  now: number,
): Promise<TokenView> {
  const row = await requireToken(database(env.d1), orgId, tokenId);
  if (!inGrace(row, now)) throw new AppError("conflict", "The token has no old secret in a grace period.");
  const [, ended] = await env.d1.batch<{ hash: string; version: number }>([
    env.d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?3, ?4, ?5, 'token.grace_ended', 'token', id, ?6,
           json_object('name', name, 'until', old_hash_until, 'oldSecretUsedAt', old_secret_used_at)
         FROM tokens WHERE id = ?1 AND old_hash = ?2`,
      )
      .bind(row.id, row.oldHash, now, actor.type, actor.id, actor.ip),
    env.d1
      .prepare(
        `UPDATE tokens SET old_hash = NULL, old_hash_until = NULL, old_secret_used_at = NULL, old_secret_ips = NULL,
           version = version + 1, updated_at = ?3
         WHERE id = ?1 AND old_hash = ?2 RETURNING hash, version`,
      )
      .bind(row.id, row.oldHash, now),
  ]);
  const changed = ended!.results[0];
  if (!changed) throw new AppError("conflict", "The token has no old secret in a grace period.");
  logAudited(actor, { orgId, action: "token.grace_ended", targetType: "token", targetId: row.id });
  await overwriteTokenCache(env.TOKEN_CACHE, row.oldHash!, { v: changed.version, token: null }, now);
  await refreshCache(env, changed.hash, now);
  return tokenView(database(env.d1), await requireToken(database(env.d1), orgId, tokenId), now);
}
