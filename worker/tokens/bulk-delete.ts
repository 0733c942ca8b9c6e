import { type Actor, logAudited } from "../audit/events";
import type { D1 } from "../db/session";
import { chunk, sliceSize, tuplePlaceholders } from "../db/slices";
import { AppError } from "../errors";
import { BULK_KILL_INLINE_MAX, D1_MAX_BOUND_PARAMETERS } from "../limits";
import { log } from "../observability/log";
import { lookupTokensByHashes } from "./lookup";
import { type DoomedToken, deleteBehindTombstones } from "./tombstone";

/*
 * A group's own tokens go with it. Its foreign-key cascade would leave their cached "valid" entries behind,
 * so they are deleted first, a hundred at a time, through `deleteBehindTombstones` (tombstone, delete at the
 * version read, seal), each with its `token.deleted` event in the delete's transaction. The
 * BULK_KILL_INLINE_MAX most recently used or changed get their tombstone whether or not an entry is
 * cached, as a token deleted by hand does, so every location learns at once; the rest (idle, as far as D1
 * knows) are tombstoned where KV holds an entry, found with one KV read per hundred, as the cron's erasure
 * does. Either way no row goes while a "valid" entry for it is known to KV.
 */

/** `d1`: the session of the change (worker/db/session.ts); `DB`: for the version checks at the primary. */
export type BulkDeleteEnv = Pick<Env, "DB" | "TOKEN_CACHE"> & { d1: D1 };

interface Doomed extends DoomedToken {
  id: string;
}

/** Rounds of read-and-delete before a group whose tokens keep changing is given up on (the caller retries). */
const DELETE_ROUNDS = 3;
// ?1 now, ?2 actor type, ?3 actor id, ?4 actor address; then an (id, version) pair per token.
const FIXED_PARAMETERS = 4;
const TOKENS_PER_STATEMENT = Math.floor(sliceSize(FIXED_PARAMETERS) / 2);

/**
 * The events and the deletes of (at most a hundred) tokens in one transaction, each only if its row is still
 * at the version its tombstone was made for: a token changed since is neither deleted nor recorded.
 */
async function deleteRows(d1: D1, safe: Doomed[], actor: Actor, now: number): Promise<{ hash: string }[]> {
  const statements = chunk(safe, TOKENS_PER_STATEMENT).flatMap((slice) => {
    const pairs = tuplePlaceholders(slice.length, 2, FIXED_PARAMETERS + 1);
    const params = [now, actor.type, actor.id, actor.ip, ...slice.flatMap((d) => [d.id, d.version])];
    return [
      d1.prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?1, ?2, ?3, 'token.deleted', 'token', id, ?4, json_object('name', name, 'kind', kind)
         FROM tokens WHERE (id, version) IN (VALUES ${pairs})`,
      ),
      d1.prepare(`DELETE FROM tokens WHERE (id, version) IN (VALUES ${pairs}) RETURNING hash`),
    ].map((statement) => statement.bind(...params));
  });
  const results = await d1.batch<{ hash: string }>(statements);
  return results.filter((_, i) => i % 2 === 1).flatMap((r) => r.results);
}

/** The tokens' state from D1 (the hot path's lookup), for tombstones written whether or not an entry is cached. */
async function withState(d1: D1, rows: Doomed[]): Promise<Doomed[]> {
  const entries = await lookupTokensByHashes(
    d1,
    rows.map((r) => r.hash),
  );
  return rows.flatMap((r) => {
    const entry = entries.get(r.hash);
    // Regenerated or deleted since the read: the next round reads it again.
    return entry?.token ? [{ id: r.id, hash: r.hash, oldHash: r.oldHash, version: entry.v, token: entry.token }] : [];
  });
}

/**
 * Deletes every token of the group (see above); answers how many. A KV failure that keeps tokens from going
 * is an `unavailable` error and tokens that keep changing a `conflict`: either way the caller's change (the
 * group's deletion) must not go ahead, and a retry picks up what is left.
 */
export async function deleteTokensOfGroup(
  env: BulkDeleteEnv,
  orgId: string,
  groupId: string,
  actor: Actor,
  now: number,
): Promise<number> {
  let deleted = 0;
  for (let round = 1; round <= DELETE_ROUNDS; round++) {
    const { results: rows } = await env.d1
      .prepare(
        `SELECT id, hash, old_hash AS oldHash, version FROM tokens WHERE org_id = ?1 AND group_id = ?2 ORDER BY max(coalesce(last_used_at, 0), updated_at) DESC`,
      )
      .bind(orgId, groupId)
      .all<Doomed>();
    if (rows.length === 0) return deleted;
    const slices = [
      ...chunk(rows.slice(0, BULK_KILL_INLINE_MAX), D1_MAX_BOUND_PARAMETERS).map((slice) => ({ slice, inline: true })),
      ...chunk(rows.slice(BULK_KILL_INLINE_MAX), D1_MAX_BOUND_PARAMETERS).map((slice) => ({ slice, inline: false })),
    ];
    const failures: string[] = [];
    for (const { slice, inline } of slices) {
      const doomed = inline ? await withState(env.d1, slice) : slice;
      const outcome = await deleteBehindTombstones(env.TOKEN_CACHE, doomed, now, (safe) =>
        deleteRows(env.d1, safe, actor, now),
      );
      deleted += outcome.deleted.length;
      if (outcome.deleted.length > 0) {
        logAudited(actor, { orgId, action: "token.deleted", targetType: "token", count: outcome.deleted.length });
      }
      if (outcome.deleted.length < doomed.length) failures.push(...outcome.failures);
      else if (outcome.failures.length > 0)
        log.error("store.error", { store: "kv", op: "group_tokens.delete", deleted: true, failures: outcome.failures });
    }
    if (failures.length > 0) {
      log.error("store.error", { store: "kv", op: "group_tokens.delete", deleted, failures });
      throw new AppError(
        "unavailable",
        "Some of the group's tokens could not be deleted because the token cache is unavailable, so the group was not deleted. Try again.",
      );
    }
  }
  throw new AppError("conflict", "The group's tokens changed while they were being deleted; try again.");
}
