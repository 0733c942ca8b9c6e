import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import { DAY_MS } from "../limits";
import { type DoomedToken, deleteBehindTombstones, tombstoneKvOperations } from "../tokens/tombstone";
import type { RunBudget } from "./budget";
import type { CronJob, JobEnv, JobOutcome, JobRun } from "./job";
import { type Keyset, parseKeyset, readCursor, SCAN_START } from "./keyset";
import { CRON_CHUNK_ROWS, CRON_MAX_ROWS_PER_JOB, purgeUnusedAfterDays } from "./schedule";

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

// Worst case per chunk: the select and one batch in D1; the tombstones' reads and writes in KV (a rotation's
// replaced secret still in a row has its own entry, buried with the token's).
const CHUNK_COST = { d1: 2, kv: tombstoneKvOperations(CRON_CHUNK_ROWS) };

interface Candidate extends DoomedToken {
  id: string;
  at: number;
}

/**
 * The event and the delete in one transaction, both conditional on the token still being due and still
 * at the version its tombstone was made for (?4 maps id to version): a second run that selected the same
 * ids, a token used since the select, or one changed since (edited, regenerated) is neither deleted nor
 * recorded.
 */
async function purgeChunk(
  d1: D1,
  chunk: Candidate[],
  cutoff: number,
  now: number,
  days: number,
): Promise<{ hash: string }[]> {
  const where = `id IN (${placeholders(chunk.length, 5)}) AND ${DUE_BY_ID} AND +version = json_extract(?4, '$."' || id || '"')`;
  const params = [
    cutoff,
    now,
    days,
    JSON.stringify(Object.fromEntries(chunk.map((t) => [t.id, t.version]))),
    ...chunk.map((t) => t.id),
  ];
  const [, deleted] = await d1.batch<{ hash: string }>([
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?2, 'system', NULL, 'token.purged', 'token', id, NULL,
                json_object('name', name, 'kind', kind, 'lastUsedAt', last_used_at, 'createdAt', created_at, 'unusedDays', ?3)
         FROM tokens WHERE ${where}`,
      )
      .bind(...params),
    d1.prepare(`DELETE FROM tokens WHERE ${where} RETURNING hash`).bind(...params),
  ]);
  return deleted!.results;
}

interface Tally {
  purged: number;
  cacheEntriesOverwritten: number;
  /** Rows looked at by both walks together, against the job's cap per run. */
  scanned: number;
  /** KV failures: the run stops at the first, and the chunk it hit is retried by the next run. */
  errors: string[];
}

/** One walk from `from` until its end (answers null) or the budget or row cap stops it (answers where). */
async function walk(
  env: JobEnv,
  budget: RunBudget,
  name: Walk,
  from: Keyset,
  cutoff: number,
  now: number,
  days: number,
  tally: Tally,
): Promise<Keyset | null> {
  const { column, where } = WALKS[name];
  let position = from;
  while (tally.scanned < CRON_MAX_ROWS_PER_JOB) {
    if (!budget.fits(CHUNK_COST)) return position;
    const { results } = await env.d1
      .prepare(
        `SELECT id, ${column} AS at, hash, old_hash AS oldHash, version FROM tokens WHERE ${where} AND (${column}, id) > (?2, ?3) ORDER BY ${column}, id LIMIT ?4`,
      )
      .bind(cutoff, position.at, position.id, CRON_CHUNK_ROWS)
      .all<Candidate>();
    budget.spend({ d1: 1 });
    if (results.length === 0) return null;
    tally.scanned += results.length;

    // Tombstones first, as `deleteToken` leaves them: a token whose tombstone KV did not take keeps its row.
    const chunk = await deleteBehindTombstones(env.TOKEN_CACHE, results, now, (safe) =>
      purgeChunk(env.d1, safe, cutoff, now, days),
    );
    budget.spend({ d1: 1, kv: chunk.kvOperations });
    tally.purged += chunk.deleted.length;
    tally.cacheEntriesOverwritten += chunk.tombstonesWritten;
    if (chunk.failures.length > 0) {
      // KV is failing: stop before this chunk, so the next run takes up the tokens it left.
      tally.errors.push(...chunk.failures);
      return position;
    }
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
    const tally: Tally = { purged: 0, cacheEntriesOverwritten: 0, scanned: 0, errors: [] };
    const next: Record<Walk, Keyset | null> = { neverUsed: null, unused: null };
    for (const name of Object.keys(WALKS) as Walk[]) {
      const from = parseKeyset(stored[name]) ?? SCAN_START;
      // After a KV failure the other walk keeps its place for the next run.
      next[name] = tally.errors.length > 0 ? from : await walk(env, budget, name, from, cutoff, now, days, tally);
    }
    const done = tally.errors.length === 0 && next.neverUsed === null && next.unused === null;
    // A finished walk starts over next run; an unfinished one resumes where it stopped.
    const counts = { purged: tally.purged, cacheEntriesOverwritten: tally.cacheEntriesOverwritten };
    return { done, counts, errors: tally.errors, cursor: JSON.stringify(next) };
  },
};
