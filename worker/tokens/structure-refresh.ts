import { and, desc, eq, gt, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import { batch, type Statement } from "../db/batch";
import { type Db, database } from "../db/client";
import { tokenProjects, tokens } from "../db/schema";
import type { D1 } from "../db/session";
import { chunk } from "../db/slices";
import { CACHE_REFRESH_INLINE_MAX, D1_MAX_BOUND_PARAMETERS } from "../limits";
import { log } from "../observability/log";
import { enqueueCacheRefresh } from "../queue/enqueue";
import type { CacheFanoutEnv } from "../queue/fanout-message";
import { errorKind } from "../util/error-kind";
import { dropTokenCache, overwriteTokenCache } from "./cache";
import { lookupTokensByHashes, tokenVersionsByHashes } from "./lookup";

/*
 * A change to an organization's groups or memberships, or to the projects a token names, changes no token
 * row, but it changes some tokens' own grant (their list, their owner's ceiling), which their cached entries
 * hold. What else a project change does reaches verifications through the project's fact
 * (worker/orgs/project-facts.ts), not through token entries. The change names which tokens it can affect;
 * in the change's own D1 transaction their versions move (so a verification's fill that read the old state
 * withdraws its entry, see `fillKvEntry`) and the most recently used or changed ones are picked. After it,
 * those entries are rewritten in bulk, at most CACHE_REFRESH_INLINE_MAX of them, which bounds the request's
 * work for any organization size; the rest, and any whose rewrite failed, go to the cache fan-out queue
 * (worker/queue/), whose consumer rewrites them the same way within its delivery time.
 */

/** `d1`: the session of the change (worker/db/session.ts); `DB`: for the version checks at the primary. */
export type CacheRefreshEnv = CacheFanoutEnv & { d1: D1 };

/** Which live tokens of an organization a structure change can affect. */
export interface AffectedTokens {
  /** Tokens naming this project in their list. Read in the change's transaction, before a delete cascades the links. */
  namingProject?: string;
  /** Personal tokens of these people, however many (a deleted group's members): bound as one JSON list. */
  personalOf?: string[];
  /** Tokens the change's own condition names (an organization's lifetime policy: those whose expiry it moves). */
  matching?: SQL;
}

export interface CacheRefreshReport {
  /** Live tokens the change can affect: every one had its version moved. */
  affected: number;
  /** Entries rewritten with the new state. */
  refreshed: number;
  /** Entries withdrawn because a change to the token raced with the rewrite: the next reader fills from D1. */
  dropped: number;
  /** Affected tokens past CACHE_REFRESH_INLINE_MAX, or whose rewrite failed, put on the fan-out queue. */
  queued: number;
  /** Of those, the queue refused: their entries were deleted instead (`enqueueCacheRefresh`). */
  droppedUnqueued: number;
  /** Could be neither rewritten, queued nor deleted: they reach the new state when their entries expire. */
  leftToExpire: number;
}

/**
 * Live: a revoked, disabled or expired token verifies as such whatever its cached reach says, and its
 * entry is rewritten in full by the change that brings it back (enable), so it needs no refresh.
 */
function affectedWhere(db: Db, orgId: string, affected: AffectedTokens, now: number): SQL | null {
  const reasons: SQL[] = [];
  if (affected.namingProject !== undefined) {
    reasons.push(
      inArray(
        tokens.id,
        db
          .select({ id: tokenProjects.tokenId })
          .from(tokenProjects)
          .where(eq(tokenProjects.projectId, affected.namingProject)),
      ),
    );
  }
  if (affected.personalOf && affected.personalOf.length > 0) {
    // One bound parameter whatever the count: the pick and the bump each name the list, and D1 binds at most
    // D1_MAX_BOUND_PARAMETERS values a statement.
    const people = sql`(SELECT value FROM json_each(${JSON.stringify(affected.personalOf)}))`;
    reasons.push(and(eq(tokens.kind, "personal"), inArray(tokens.userId, people))!);
  }
  if (affected.matching !== undefined) reasons.push(affected.matching);
  if (reasons.length === 0) return null;
  return and(
    eq(tokens.orgId, orgId),
    isNull(tokens.revokedAt),
    isNull(tokens.disabledAt),
    or(isNull(tokens.expiresAt), gt(tokens.expiresAt, now)),
    or(...reasons),
  )!;
}

/** Last used or last changed: an entry exists in KV only for a token read or written within its TTL. */
const recency = sql`max(coalesce(${tokens.lastUsedAt}, 0), ${tokens.updatedAt})`;

/**
 * Commits `change` (statements for one D1 transaction; may be empty when the caller changed D1 already) with
 * the affected tokens' version bump ahead of it, then rewrites their cache entries. The pick and the bump run
 * before the change's statements, so links and memberships it deletes still name their tokens.
 */
export async function commitWithCacheRefresh(
  env: CacheRefreshEnv,
  orgId: string,
  affected: AffectedTokens,
  change: Statement[],
  now: number,
): Promise<CacheRefreshReport> {
  const db = database(env.d1);
  const where = affectedWhere(db, orgId, affected, now);
  if (where === null) {
    await batch(db, change);
    return { affected: 0, refreshed: 0, dropped: 0, queued: 0, droppedUnqueued: 0, leftToExpire: 0 };
  }
  const [picked] = await db.batch([
    db
      .select({ hash: tokens.hash, oldHash: tokens.oldHash, total: sql<number>`count(*) over ()` })
      .from(tokens)
      .where(where)
      .orderBy(desc(recency)),
    db
      .update(tokens)
      .set({ version: sql`${tokens.version} + 1` })
      .where(where),
    ...change,
  ]);
  const total = picked[0]?.total ?? 0;
  // A replaced secret in its grace names the same token: its entry holds the same grant.
  const hashes = picked.flatMap((p) => (p.oldHash ? [p.hash, p.oldHash] : [p.hash]));
  const { refreshed, dropped, unwritten } = await refreshAfterCommit(
    env,
    hashes.slice(0, CACHE_REFRESH_INLINE_MAX),
    now,
  );
  const fanout = await enqueueCacheRefresh(env, [...hashes.slice(CACHE_REFRESH_INLINE_MAX), ...unwritten]);
  const report = {
    affected: total,
    refreshed,
    dropped,
    queued: fanout.queued,
    droppedUnqueued: fanout.dropped,
    leftToExpire: fanout.failed,
  };
  if (report.leftToExpire > 0) {
    log.warn("cache.left_to_expire", { change: "structure", orgId, left: report.leftToExpire, of: total });
  }
  return report;
}

/** The version bump and the bulk rewrite alone, for a change already committed to D1. */
export const refreshOrgTokenCaches = (env: CacheRefreshEnv, orgId: string, now: number, affected: AffectedTokens) =>
  commitWithCacheRefresh(env, orgId, affected, [], now);

/**
 * `refreshEntries` once the change has committed: a D1 read failing there (the lookup, the version
 * check) must not fail the change, nor the writes its caller still has to make (a project's fact): the
 * entries are answered unwritten, so they go to the fan-out queue (or are dropped when it refuses them).
 */
async function refreshAfterCommit(env: CacheRefreshEnv, hashes: string[], now: number) {
  try {
    return await refreshEntries(env, hashes, now);
  } catch (err) {
    log.error("store.error", { store: "d1", op: "cache.refresh", error: errorKind(err), fallback: "queue" });
    return { refreshed: 0, dropped: 0, unwritten: hashes };
  }
}

/**
 * Per slice of 100: one lookup (the hot path's statement), the overwrites, one version read. KV keeps the
 * last put, not the newest state, so an entry whose token moved on meanwhile (a revoke landing between
 * the lookup and the put) may have buried the newer entry: it is withdrawn, as `refreshCache` does after its
 * retries, and the next reader goes to D1. A hash that no longer names a token (regenerated, deleted) is
 * skipped: the change that did it wrote its entry. A KV failure is logged and answered in `unwritten` (the
 * callers queue those, the queue's consumer retries them): the change is committed, and answering it with an
 * error would invite a retry that fails. Bulk revokes (`bulk-revoke.ts`) and the fan-out queue's consumer
 * (worker/queue/consume.ts) rewrite their entries through it too.
 */
export async function refreshEntries(
  env: Pick<Env, "DB" | "TOKEN_CACHE"> & { d1: D1 },
  hashes: string[],
  now: number,
): Promise<{ refreshed: number; dropped: number; failed: number; unwritten: string[] }> {
  let refreshed = 0;
  let dropped = 0;
  let failed = 0;
  const unwritten: string[] = [];
  for (const slice of chunk(hashes, D1_MAX_BOUND_PARAMETERS)) {
    const entries = await lookupTokensByHashes(env.d1, slice);
    const puts = await Promise.allSettled(
      [...entries].map(([hash, entry]) => overwriteTokenCache(env.TOKEN_CACHE, hash, entry, now)),
    );
    const written = [...entries.keys()].filter((_, n) => puts[n]!.status === "fulfilled");
    unwritten.push(...[...entries.keys()].filter((_, n) => puts[n]!.status === "rejected"));
    failed += entries.size - written.length;
    const versions = await tokenVersionsByHashes(env.DB, written);
    const moved = written.filter((hash) => versions.get(hash) !== entries.get(hash)!.v);
    const drops = await Promise.allSettled(moved.map((hash) => dropTokenCache(env.TOKEN_CACHE, hash)));
    const droppedNow = drops.filter((d) => d.status === "fulfilled").length;
    unwritten.push(...moved.filter((_, n) => drops[n]!.status === "rejected"));
    failed += moved.length - droppedNow;
    dropped += droppedNow;
    refreshed += written.length - moved.length;
  }
  if (failed > 0) log.error("store.error", { store: "kv", op: "token.rewrite", failed });
  return { refreshed, dropped, failed, unwritten };
}
