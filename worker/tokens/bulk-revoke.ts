import { type Actor, logAudited } from "../audit/events";
import { asD1Statement, type Statement } from "../db/batch";
import type { D1 } from "../db/session";
import { chunk, placeholders, sliceSize } from "../db/slices";
import { BULK_KILL_INLINE_MAX, D1_BATCH_MAX_STATEMENTS } from "../limits";
import { log } from "../observability/log";
import { enqueueCacheRefresh } from "../queue/enqueue";
import type { CacheFanoutEnv } from "../queue/fanout-message";
import { memoryCache } from "./memory-cache";
import { refreshEntries } from "./structure-refresh";

/*
 * Revoking many tokens at once. One by one (`revokeToken`) costs about four D1 queries and up to three KV
 * operations a token, so a few hundred run into Workers' 1,000 of each per invocation part-way through.
 * Here the rows change in set-based statements, a chunk of ids (or the whole condition) at a time, each
 * chunk a SELECT of what it will revoke, one `token.revoked` event per token (an INSERT … SELECT) and the
 * UPDATE, in the same D1 transaction: a token that a racing revoke got to first is neither changed nor
 * audited again. Every selected row is revoked, however many; then the cache entries of the
 * BULK_KILL_INLINE_MAX most recently used or changed are rewritten in bulk (the hot path's lookup, one
 * version check per 100, entries a racing change overtook dropped), and the rest are forgotten by this
 * isolate and put on the cache fan-out queue, whose consumer rewrites them the same way (docs/API.md,
 * "Bulk kills").
 */

/** `d1`: the session of the change (worker/db/session.ts); `DB`: for the version checks at the primary. */
export type BulkRevokeEnv = CacheFanoutEnv & { d1: D1 };

/** Which tokens of one organization a bulk revoke kills. */
export type RevokeSelection =
  /** These tokens. */
  | { ids: string[] }
  /**
   * The personal tokens of these people, if they hold no membership in the organization any more: checked
   * in the revoke's own transaction, so someone added back meanwhile keeps their tokens.
   */
  | { leavers: string[] }
  /**
   * The live tokens these tokens made (`created_by`) or one of whose live secrets they issued
   * (`secret_issued_by`, or `old_secret_issued_by` in a grace period): what an admin token made or
   * knows dies with it.
   */
  | { createdBy: string[] };

export interface BulkRevokeReport {
  /** Ids revoked by this call, each with its own `token.revoked` event. */
  revoked: string[];
  /** Selected ids (for an id selection) that were revoked already: not changed, not audited again. */
  alreadyRevoked: string[];
  /** Cache entries rewritten with the revoked state. */
  refreshed: number;
  /** Entries withdrawn because a change to the token raced with the rewrite: the next reader fills from D1. */
  dropped: number;
  /** Revoked tokens beyond BULK_KILL_INLINE_MAX, or whose rewrite failed, put on the fan-out queue. */
  queued: number;
  /** Of those, the queue refused: their entries were deleted instead (`enqueueCacheRefresh`). */
  droppedUnqueued: number;
  /** Could be neither rewritten, queued nor deleted: an entry they have in KV expires within KV_TOKEN_TTL_S. */
  leftToExpire: number;
}

interface Selected {
  id: string;
  hash: string;
  /** A replaced secret in its grace period: its entry names the same token and is rewritten with it. */
  old_hash: string | null;
  revoked_at: number | null;
  /** Before this revoke; it moves by one if the revoke changed the row. */
  version: number;
  recency: number;
}

// ?1 now, ?2 actor type, ?3 actor id, ?4 actor address, ?5 organization; the selection's values follow.
const FIXED_PARAMETERS = 5;
const VALUES_PER_STATEMENT = sliceSize(FIXED_PARAMETERS);
const STATEMENTS_PER_CHUNK = 3;
const CHUNKS_PER_BATCH = Math.floor(D1_BATCH_MAX_STATEMENTS / STATEMENTS_PER_CHUNK);

const valueList = (count: number) => placeholders(count, FIXED_PARAMETERS + 1);

/** The selection's rows of the organization, live or not, for one chunk of its values. */
function whereOf(selection: RevokeSelection, count: number): string {
  if ("ids" in selection) return `org_id = ?5 AND id IN (${valueList(count)})`;
  if ("createdBy" in selection) {
    // One indexed search per tie, by id from there: an OR of the three, or a plain org_id or revoked_at
    // term (unary + keeps SQLite from using those indexes), would walk every token of the organization.
    const list = valueList(count);
    return `+org_id = ?5 AND +revoked_at IS NULL AND id IN (
      SELECT id FROM tokens WHERE org_id = ?5 AND created_by IN (${list})
      UNION ALL SELECT id FROM tokens WHERE org_id = ?5 AND secret_issued_by IN (${list})
      UNION ALL SELECT id FROM tokens WHERE org_id = ?5 AND old_secret_issued_by IN (${list}) AND old_hash_until > ?1)`;
  }
  return `org_id = ?5 AND kind = 'personal' AND revoked_at IS NULL AND user_id IN (${valueList(count)})
    AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = tokens.user_id AND m.org_id = tokens.org_id)`;
}

/**
 * The three statements of one chunk. They share one parameter list: SQLite counts parameters up to the
 * highest number named, so a statement may leave some of ?1-?4 unnamed.
 */
function chunkStatements(
  d1: D1,
  selection: RevokeSelection,
  values: string[],
  orgId: string,
  actor: Actor,
  now: number,
): D1PreparedStatement[] {
  const where = whereOf(selection, values.length);
  const params = [now, actor.type, actor.id, actor.ip, orgId, ...values];
  // A token both made by one of them and holding a secret another issued is reported as made.
  const made = `created_by IN (${valueList(values.length)})`;
  const detail =
    "createdBy" in selection
      ? `CASE WHEN ${made} THEN json_object('name', name, 'reason', 'creator_revoked', 'creator', substr(created_by, 7))
         WHEN secret_issued_by IN (${valueList(values.length)})
           THEN json_object('name', name, 'reason', 'secret_issuer_revoked', 'issuer', substr(secret_issued_by, 7))
         ELSE json_object('name', name, 'reason', 'secret_issuer_revoked', 'issuer', substr(old_secret_issued_by, 7)) END`
      : "json_object('name', name)";
  return [
    // Last used or last changed, before this change: which entries are most likely cached.
    d1.prepare(
      `SELECT id, hash, old_hash, revoked_at, version, max(coalesce(last_used_at, 0), updated_at) AS recency FROM tokens WHERE ${where}`,
    ),
    d1.prepare(
      `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
       SELECT org_id, ?1, ?2, ?3, 'token.revoked', 'token', id, ?4, ${detail}
       FROM tokens WHERE +revoked_at IS NULL AND ${where}`,
    ),
    d1.prepare(
      `UPDATE tokens SET revoked_at = ?1, updated_at = ?1, version = version + 1 WHERE +revoked_at IS NULL AND ${where}`,
    ),
  ].map((statement) => statement.bind(...params));
}

function selectionValues(selection: RevokeSelection): string[] {
  if ("ids" in selection) return selection.ids;
  if ("leavers" in selection) return selection.leavers;
  return selection.createdBy.map((id) => `token:${id}`);
}

/**
 * Revokes the selection's live rows in D1 with their events, a few chunks a transaction; answers every
 * selected row as it was just before its chunk changed it.
 */
export async function revokeRows(
  d1: D1,
  orgId: string,
  selection: RevokeSelection,
  actor: Actor,
  now: number,
  change: Statement[] = [],
): Promise<Selected[]> {
  const values = [...new Set(selectionValues(selection))];
  const chunks = chunk(values, VALUES_PER_STATEMENT);
  const selected: Selected[] = [];
  // The change rides ahead of the first chunks, in their transaction: a leaver's membership goes in the same
  // commit as their tokens. Its statements take room from the first batch only.
  let leading = change.map((statement) => asD1Statement(d1, statement));
  const room = Math.max(1, CHUNKS_PER_BATCH - Math.ceil(leading.length / STATEMENTS_PER_CHUNK));
  const batches = chunks.length === 0 ? [[]] : [chunks.slice(0, room), ...chunk(chunks.slice(room), CHUNKS_PER_BATCH)];
  for (const batch of batches) {
    const statements = [...leading, ...batch.flatMap((c) => chunkStatements(d1, selection, c, orgId, actor, now))];
    if (statements.length === 0) continue;
    const results = await d1.batch<Selected>(statements);
    for (let i = leading.length; i < results.length; i += STATEMENTS_PER_CHUNK) selected.push(...results[i]!.results);
    leading = [];
  }
  return selected;
}

/**
 * Revokes a selection of one organization's tokens (see above). Every selected live row is revoked and
 * audited whatever the count; KV work is bounded by BULK_KILL_INLINE_MAX. A KV failure does not fail the
 * call: the revocation is committed, and the entries it could not rewrite are queued like those beyond the bound.
 * `change` (drizzle statements) is committed in the first transaction, before the revoke reads its selection.
 */
export async function revokeTokensBulk(
  env: BulkRevokeEnv,
  orgId: string,
  selection: RevokeSelection,
  actor: Actor,
  now: number,
  change: Statement[] = [],
): Promise<BulkRevokeReport> {
  const selected = await revokeRows(env.d1, orgId, selection, actor, now, change);
  const killed = selected.filter((s) => s.revoked_at === null).sort((a, b) => b.recency - a.recency);
  if (killed.length > 0)
    logAudited(actor, { orgId, action: "token.revoked", targetType: "token", count: killed.length });
  const inline = killed.slice(0, BULK_KILL_INLINE_MAX);
  const hashesOf = (k: Selected) => (k.old_hash ? [k.hash, k.old_hash] : [k.hash]);
  // Free: no reader in this isolate answers from an entry it held before the revoke.
  for (const k of killed.slice(BULK_KILL_INLINE_MAX))
    for (const h of hashesOf(k)) memoryCache.forget(h, Number.MAX_SAFE_INTEGER);
  const { refreshed, dropped, unwritten } = await refreshEntries(env, inline.flatMap(hashesOf), now);
  const fanout = await enqueueCacheRefresh(env, [
    ...killed.slice(BULK_KILL_INLINE_MAX).flatMap(hashesOf),
    ...unwritten,
  ]);
  const report: BulkRevokeReport = {
    revoked: killed.map((k) => k.id),
    alreadyRevoked: selected.filter((s) => s.revoked_at !== null).map((s) => s.id),
    refreshed,
    dropped,
    queued: fanout.queued,
    droppedUnqueued: fanout.dropped,
    leftToExpire: fanout.failed,
  };
  if (report.leftToExpire > 0) {
    log.warn("cache.left_to_expire", { change: "bulk_revoke", orgId, left: report.leftToExpire, of: killed.length });
  }
  return report;
}
