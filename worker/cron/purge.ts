import { DAY_MS } from "../limits";
import { overwriteCachedEntries } from "./cache-overwrite";
import type { CronJob, JobOutcome, JobRun } from "./job";
import { CRON_CHUNK_ROWS, CRON_MAX_ROWS_PER_JOB, purgeUnusedAfterDays } from "./schedule";
import { numberedList } from "./sql";

// ?1 = the cutoff (now minus the purge age). No expiry, not revoked (revoked tokens follow the retention
// rule), and last used (never used: made) at or before the cutoff. Disabled tokens are purged too: off is unused.
const DUE =
  "expires_at IS NULL AND revoked_at IS NULL AND ((last_used_at IS NULL AND created_at <= ?1) OR last_used_at <= ?1)";

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
         FROM tokens WHERE ${inList} AND ${DUE}`,
      )
      .bind(cutoff, now, days, ...ids),
    d1.prepare(`DELETE FROM tokens WHERE ${inList} AND ${DUE} RETURNING hash, version`).bind(cutoff, now, days, ...ids),
  ]);
  return deleted!.results;
}

/** The 60-day rule: tokens with no expiry unused for the configured days are deleted, one `token.purged` event each. */
export const purgeJob: CronJob = {
  name: "purge",
  async run({ env, now, budget }: JobRun): Promise<JobOutcome> {
    const days = purgeUnusedAfterDays(env);
    const cutoff = now - days * DAY_MS;
    const counts = { purged: 0, cacheEntriesOverwritten: 0 };
    // Purged rows leave the condition, so the condition itself is where the next chunk (and run) resumes.
    const outcome = (done: boolean): JobOutcome => ({ done, counts, errors: [], cursor: null });

    for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CRON_CHUNK_ROWS) {
      if (!budget.fits(CHUNK_COST)) return outcome(false);
      const { results } = await env.DB.prepare(`SELECT id FROM tokens WHERE ${DUE} LIMIT ?2`)
        .bind(cutoff, CRON_CHUNK_ROWS)
        .all<{ id: string }>();
      budget.spend({ d1: 1 });
      if (results.length === 0) return outcome(true);

      const purged = await purgeChunk(env.DB, results.map((r) => r.id), cutoff, now, days);
      budget.spend({ d1: 1 });
      counts.purged += purged.length;
      // A deleted token's tombstone says "revoked", newer than any fill, as `deleteToken` leaves it.
      const written = await overwriteCachedEntries(
        env.TOKEN_CACHE,
        purged.map((t) => ({ hash: t.hash, version: t.version + 1, patch: (cached) => ({ ...cached, revokedAt: cached.revokedAt ?? now }) })),
        now,
      );
      budget.spend({ kv: 1 + written });
      counts.cacheEntriesOverwritten += written;
      if (results.length < CRON_CHUNK_ROWS) return outcome(true);
    }
    return outcome(false);
  },
};
