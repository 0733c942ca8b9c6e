import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import { overwriteCachedEntries } from "./cache-overwrite";
import type { CronJob, JobOutcome, JobRun } from "./job";
import { type Keyset, parseKeyset, readCursor, SCAN_START } from "./keyset";
import {
  CRON_CHUNK_ROWS,
  CRON_MAX_ROWS_PER_JOB,
  EXPIRY_CURSOR_SLACK_MS,
  EXPIRY_FULL_SCAN_INTERVAL_MS,
} from "./schedule";

// ?1 = now. Revoked tokens are already dead and say so; they get no expiry event. The scan walks
// `tokens_expires` (p = ""); statements on an id list must use the primary key (p = "+", see ./sql.ts).
const due = (p: "" | "+") => `${p}expires_at <= ?1 AND +expired_event_at IS NULL AND +revoked_at IS NULL`;

// Worst case per chunk: the select and one batch in D1; the bulk read and a write per token in KV.
const CHUNK_COST = { d1: 2, kv: 1 + CRON_CHUNK_ROWS };

interface Expired {
  hash: string;
  version: number;
  expires_at: number;
  disabled_at: number | null;
}

/**
 * The event and the mark in one transaction, both conditional on the token not being marked yet:
 * a second run that selected the same ids writes neither, so the event exists once. (That is why
 * the event is an INSERT … SELECT here rather than `auditInsert`, which cannot depend on the row.)
 */
async function expireChunk(d1: D1, ids: string[], now: number): Promise<Expired[]> {
  const inList = `id IN (${placeholders(ids.length, 2)})`;
  const [, marked] = await d1.batch<Expired>([
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?1, 'system', NULL, 'token.expired', 'token', id, NULL,
                json_object('name', name, 'kind', kind, 'expiresAt', expires_at)
         FROM tokens WHERE ${inList} AND ${due("+")}`,
      )
      .bind(now, ...ids),
    d1
      .prepare(
        `UPDATE tokens SET expired_event_at = ?1, version = version + 1 WHERE ${inList} AND ${due("+")}
         RETURNING hash, version, expires_at, disabled_at`,
      )
      .bind(now, ...ids),
  ]);
  return marked!.results;
}

/** Whether any organization saved its token policies at or after `since` (one row per organization). */
async function policiesSavedSince(d1: D1, since: number): Promise<boolean> {
  const row = await d1.prepare("SELECT max(updated_at) AS at FROM org_policies").first<{ at: number | null }>();
  return row?.at != null && row.at >= since;
}

/** Tokens past `expiresAt`: one `token.expired` event each, and every cached entry rewritten as expired. */
export const expiryJob: CronJob = {
  name: "expiry",
  async run({ env, now, budget, cursor }: JobRun): Promise<JobOutcome> {
    const counts = { expired: 0, cacheEntriesOverwritten: 0 };
    const raw = readCursor(cursor) as { since?: unknown } | null;
    const stored = parseKeyset(raw);
    // Once a day the scan starts over, for tokens that reached D1 behind the cursor (a restore, a script),
    // and at once after a lifetime policy was saved: its cut can put expiries behind the cursor.
    const fresh =
      !stored ||
      typeof raw?.since !== "number" ||
      now - raw.since >= EXPIRY_FULL_SCAN_INTERVAL_MS ||
      (await policiesSavedSince(env.d1, raw.since));
    const since = fresh ? now : (raw!.since as number);
    let position: Keyset = fresh
      ? SCAN_START
      : stored.at > now - EXPIRY_CURSOR_SLACK_MS
        ? { at: now - EXPIRY_CURSOR_SLACK_MS, id: "" }
        : stored;
    const outcome = (done: boolean): JobOutcome => ({
      done,
      counts,
      errors: [],
      cursor: JSON.stringify({ ...position, since }),
    });

    for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CRON_CHUNK_ROWS) {
      if (!budget.fits(CHUNK_COST)) return outcome(false);
      const { results } = await env.d1
        .prepare(
          `SELECT id, expires_at FROM tokens WHERE ${due("")} AND (expires_at, id) > (?2, ?3) ORDER BY expires_at, id LIMIT ?4`,
        )
        .bind(now, position.at, position.id, CRON_CHUNK_ROWS)
        .all<{ id: string; expires_at: number }>();
      budget.spend({ d1: 1 });
      if (results.length === 0) return outcome(true);

      const expired = await expireChunk(
        env.d1,
        results.map((r) => r.id),
        now,
      );
      budget.spend({ d1: 1 });
      counts.expired += expired.length;
      const written = await overwriteCachedEntries(
        env.TOKEN_CACHE,
        expired.map((t) => ({
          hash: t.hash,
          version: t.version,
          patch: (cached) => ({ ...cached, expiresAt: t.expires_at, disabledAt: t.disabled_at }),
        })),
        now,
      );
      budget.spend({ kv: 1 + written });
      counts.cacheEntriesOverwritten += written;

      const last = results[results.length - 1]!;
      position = { at: last.expires_at, id: last.id };
      if (results.length < CRON_CHUNK_ROWS) return outcome(true);
    }
    return outcome(false);
  },
};
