import { DAY_MS } from "../limits";
import type { RunBudget } from "./budget";
import { overwriteCachedEntries } from "./cache-overwrite";
import type { CronEnv, CronJob, JobOutcome, JobRun } from "./job";
import { type Keyset, parseKeyset, readCursor, SCAN_START } from "./keyset";
import { CRON_CHUNK_ROWS, CRON_MAX_ROWS_PER_JOB, purgeUnusedAfterDays } from "./schedule";
import { numberedList } from "./sql";

// ?1 = the cutoff (now minus the purge age). No expiry, not revoked (revoked tokens follow the retention
// rule), and last used (never used: made) at or before the cutoff. Disabled tokens are purged too: off is unused.
// Written for statements on an id list, which must use the primary key (see ./sql.ts).
const DUE_BY_ID =
  "+expires_at IS NULL AND +revoked_at IS NULL AND ((+last_used_at IS NULL AND +created_at <= ?1) OR +last_used_at <= ?1)";

/**
 * The two halves of the rule, each an ordered walk of `tokens_purge` with its own keyset cursor. Behind
 * the cursor there are only deleted tokens and revoked ones (passed over, never to be purged), and tokens
 * that become due later land ahead of it: their time is past the cutoff the cursor was made under.
 * So a walk never rereads what it passed, however many revoked tokens sit among the due ones.
 */
const WALKS = {
  neverUsed: {
    column: "created_at",
    where: "expires_at IS NULL AND last_used_at IS NULL AND created_at <= ?1 AND +revoked_at IS NULL",
  },
  unused: {
    column: "last_used_at",
    where: "expires_at IS NULL AND last_used_at <= ?1 AND +revoked_at IS NULL",
  },
} as const;
type Walk = keyof typeof WALKS;

// Worst case per chunk: the select and one batch in D1; the bulk read and a write per token in KV.
const CHUNK_COST = { d1: 2, kv: 1 + CRON_CHUNK_ROWS };

interface Purged {
  hash: string;
  version: number;
}

/**
 * The event and the delete in one transaction, both conditional on the token still being due: a second
 * run that selected the same ids (or a token used since the select) deletes nothing and writes nothing.
 */
async function purgeChunk(d1: D1Database, ids: string[], cutoff: number, now: number, days: number): Promise<Purged[]> {
  const inList = `id IN (${numberedList(4, ids.length)})`;
  const [, deleted] = await d1.batch<Purged>([
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?2, 'system', NULL, 'token.purged', 'token', id, NULL,
                json_object('name', name, 'kind', kind, 'lastUsedAt', last_used_at, 'createdAt', created_at, 'unusedDays', ?3)
         FROM tokens WHERE ${inList} AND ${DUE_BY_ID}`,
      )
      .bind(cutoff, now, days, ...ids),
    d1.prepare(`DELETE FROM tokens WHERE ${inList} AND ${DUE_BY_ID} RETURNING hash, version`).bind(cutoff, now, days, ...ids),
  ]);
  return deleted!.results;
}

interface Tally {
  purged: number;
  cacheEntriesOverwritten: number;
  /** Rows looked at by both walks together, against the job's cap per run. */
  scanned: number;
}

/** One walk from `from` until its end (answers null) or the budget or row cap stops it (answers where). */
async function walk(env: CronEnv, budget: RunBudget, name: Walk, from: Keyset, cutoff: number, now: number, days: number, tally: Tally): Promise<Keyset | null> {
  const { column, where } = WALKS[name];
  let position = from;
  while (tally.scanned < CRON_MAX_ROWS_PER_JOB) {
    if (!budget.fits(CHUNK_COST)) return position;
    const { results } = await env.DB.prepare(
      `SELECT id, ${column} AS at FROM tokens WHERE ${where} AND (${column}, id) > (?2, ?3) ORDER BY ${column}, id LIMIT ?4`,
    )
      .bind(cutoff, position.at, position.id, CRON_CHUNK_ROWS)
      .all<{ id: string; at: number }>();
    budget.spend({ d1: 1 });
    if (results.length === 0) return null;
    tally.scanned += results.length;

    const purged = await purgeChunk(env.DB, results.map((r) => r.id), cutoff, now, days);
    budget.spend({ d1: 1 });
    tally.purged += purged.length;
    // A deleted token's tombstone says "revoked", newer than any fill, as `deleteToken` leaves it.
    const written = await overwriteCachedEntries(
      env.TOKEN_CACHE,
      purged.map((t) => ({ hash: t.hash, version: t.version + 1, patch: (cached) => ({ ...cached, revokedAt: cached.revokedAt ?? now }) })),
      now,
    );
    budget.spend({ kv: 1 + written });
    tally.cacheEntriesOverwritten += written;
    const last = results[results.length - 1]!;
    position = { at: last.at, id: last.id };
    if (results.length < CRON_CHUNK_ROWS) return null;
  }
  return position;
}

/** The 60-day rule: tokens with no expiry unused for the configured days are deleted, one `token.purged` event each. */
export const purgeJob: CronJob = {
  name: "purge",
  async run({ env, now, budget, cursor }: JobRun): Promise<JobOutcome> {
    const days = purgeUnusedAfterDays(env);
    const cutoff = now - days * DAY_MS;
    const stored = (readCursor(cursor) ?? {}) as Record<string, unknown>;
    const tally: Tally = { purged: 0, cacheEntriesOverwritten: 0, scanned: 0 };
    const next: Record<Walk, Keyset | null> = { neverUsed: null, unused: null };
    for (const name of Object.keys(WALKS) as Walk[]) {
      next[name] = await walk(env, budget, name, parseKeyset(stored[name]) ?? SCAN_START, cutoff, now, days, tally);
    }
    const done = next.neverUsed === null && next.unused === null;
    // A finished walk starts over next run; an unfinished one resumes where it stopped.
    const counts = { purged: tally.purged, cacheEntriesOverwritten: tally.cacheEntriesOverwritten };
    return { done, counts, errors: [], cursor: JSON.stringify(next) };
  },
};
