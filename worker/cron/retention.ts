import { SESSION_IDLE_MS } from "../accounts/limits";
import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import { DAY_MS, WEBHOOK_LOG_RETENTION_DAYS } from "../limits";
import { type DoomedToken, deleteBehindTombstones, tombstoneKvOperations } from "../tokens/tombstone";
import { windowStart } from "../tokens/usage-report";
import type { RunBudget } from "./budget";
import type { CronJob, JobOutcome, JobRun } from "./job";
import {
  AUDIT_RETENTION_DAYS,
  CRON_CHUNK_ROWS,
  CRON_MAX_ROWS_PER_JOB,
  CRON_SWEEP_ROWS,
  DEAD_TOKEN_RETENTION_DAYS,
  ENDED_INVITATION_RETENTION_DAYS,
  LOGIN_THROTTLE_ROW_MAX_AGE_MS,
} from "./schedule";

// ?1 = the cutoff. A token died when it was revoked or expired, whichever came first; an expired one
// waits for its `token.expired` event (the expiry job runs first) unless it was revoked. A lifetime
// policy's cut (`expiry_cut`) can set `expires_at` far in the past: such a token died no earlier than
// the cut was saved (its `updated_at`, or later), so a token stopped today is not erased today.
// The scan walks `tokens_revoked` and `tokens_expires` (p = ""); statements on an id list must use the
// primary key (p = "+", see ./sql.ts).
const dead = (p: "" | "+") =>
  `((${p}revoked_at <= ?1) OR (${p}expires_at <= ?1 AND (+expiry_cut = 0 OR +updated_at <= ?1)
    AND (+expired_event_at IS NOT NULL OR +revoked_at IS NOT NULL)))`;

const CHUNK_COST = { d1: 2, kv: tombstoneKvOperations(CRON_CHUNK_ROWS) };

interface Dead extends DoomedToken {
  id: string;
}

/**
 * The event and the delete in one transaction, both conditional on the token being due and still at the
 * version its tombstone was made for (?3 maps id to version).
 */
async function eraseChunk(d1: D1, chunk: Dead[], cutoff: number, now: number): Promise<{ hash: string }[]> {
  const where = `id IN (${placeholders(chunk.length, 4)}) AND ${dead("+")} AND +version = json_extract(?3, '$."' || id || '"')`;
  const params = [
    cutoff,
    now,
    JSON.stringify(Object.fromEntries(chunk.map((t) => [t.id, t.version]))),
    ...chunk.map((t) => t.id),
  ];
  const [, deleted] = await d1.batch<{ hash: string }>([
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?2, 'system', NULL, 'token.erased', 'token', id, NULL,
                json_object('name', name, 'kind', kind,
                  'reason', CASE WHEN revoked_at IS NOT NULL AND (expires_at IS NULL OR revoked_at < expires_at) THEN 'revoked' ELSE 'expired' END)
         FROM tokens WHERE ${where}`,
      )
      .bind(...params),
    d1.prepare(`DELETE FROM tokens WHERE ${where} RETURNING hash`).bind(...params),
  ]);
  return deleted!.results;
}

/**
 * Revoked and expired tokens, 30 days after they died. Answers whether it finished. A KV failure stops it
 * for this run (the scan has no cursor: it would select the tokens left behind again at once).
 */
async function eraseDeadTokens(
  env: JobRun["env"],
  budget: RunBudget,
  now: number,
  counts: Record<string, number>,
  errors: string[],
): Promise<boolean> {
  const cutoff = now - DEAD_TOKEN_RETENTION_DAYS * DAY_MS;
  for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CRON_CHUNK_ROWS) {
    if (!budget.fits(CHUNK_COST)) return false;
    const { results } = await env.d1
      .prepare(`SELECT id, hash, old_hash AS oldHash, version FROM tokens WHERE ${dead("")} LIMIT ?2`)
      .bind(cutoff, CRON_CHUNK_ROWS)
      .all<Dead>();
    budget.spend({ d1: 1 });
    if (results.length === 0) return true;
    // Tombstones first, as `deleteToken` leaves them: a token whose tombstone KV did not take keeps its row.
    const chunk = await deleteBehindTombstones(env.TOKEN_CACHE, results, now, (safe) =>
      eraseChunk(env.d1, safe, cutoff, now),
    );
    budget.spend({ d1: 1, kv: chunk.kvOperations });
    counts.tokensErased! += chunk.deleted.length;
    counts.cacheEntriesOverwritten! += chunk.tombstonesWritten;
    if (chunk.failures.length > 0) {
      errors.push(...chunk.failures);
      return false;
    }
    // A token left (changed since the select, or a newer entry cached) would be selected again at once.
    if (chunk.deleted.length < results.length) return false;
    if (results.length < CRON_CHUNK_ROWS) return true;
  }
  return false;
}

/** Short-lived rows past their use: each statement deletes at most CRON_SWEEP_ROWS and is repeated until none are left. */
const SWEEPS = [
  {
    // A session ends at its hard expiry or after its idle time, whichever comes first (worker/accounts/sessions.ts).
    count: "sessionsDeleted",
    sql: `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2 LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [now, now - SESSION_IDLE_MS],
  },
  {
    count: "loginThrottleRowsDeleted",
    sql: `DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE window_start <= ?1 LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [now - LOGIN_THROTTLE_ROW_MAX_AGE_MS],
  },
  {
    count: "invitationsDeleted",
    sql: `DELETE FROM invitations WHERE id IN (SELECT id FROM invitations
            WHERE expires_at <= ?1 OR accepted_at <= ?1 OR revoked_at <= ?1 LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [now - ENDED_INVITATION_RETENTION_DAYS * DAY_MS],
  },
  {
    // A reset link is worth nothing once spent or expired; its issue and use stay in the audit log.
    count: "passwordResetsDeleted",
    sql: `DELETE FROM password_resets WHERE id IN (SELECT id FROM password_resets
            WHERE expires_at <= ?1 OR used_at IS NOT NULL LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [now],
  },
  {
    // The usage chart's window (worker/tokens/usage-report.ts): older days are never shown.
    count: "usageDaysDeleted",
    sql: `DELETE FROM token_daily_counts WHERE rowid IN (SELECT rowid FROM token_daily_counts WHERE day < ?1 LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [windowStart(now)],
  },
  {
    // The webhook delivery log's window; an event the cron still owes a retry is never pruned.
    count: "webhookEventsDeleted",
    sql: `DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox
            WHERE created_at <= ?1 AND (state <> 'pending' OR next_attempt_at IS NULL) LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [now - WEBHOOK_LOG_RETENTION_DAYS * DAY_MS],
  },
  {
    count: "auditEventsDeleted",
    sql: `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at <= ?1 ORDER BY at LIMIT ${CRON_SWEEP_ROWS})`,
    params: (now: number) => [now - AUDIT_RETENTION_DAYS * DAY_MS],
  },
] as const;

async function sweep(
  budget: RunBudget,
  statement: D1PreparedStatement,
  counts: Record<string, number>,
  key: string,
): Promise<boolean> {
  for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CRON_SWEEP_ROWS) {
    if (!budget.fits({ d1: 1 })) return false;
    const { meta } = await statement.run();
    budget.spend({ d1: 1 });
    counts[key]! += meta.changes;
    if (meta.changes < CRON_SWEEP_ROWS) return true;
  }
  return false;
}

/**
 * Retention: dead tokens erased 30 days after they died; expired sessions, stale counters, ended
 * invitations and spent reset links swept; usage counts past the chart's window and old audit events dropped.
 */
export const retentionJob: CronJob = {
  name: "retention",
  async run({ env, now, budget }: JobRun): Promise<JobOutcome> {
    const counts: Record<string, number> = { tokensErased: 0, cacheEntriesOverwritten: 0 };
    const errors: string[] = [];
    let done = await eraseDeadTokens(env, budget, now, counts, errors);
    for (const s of SWEEPS) {
      counts[s.count] = 0;
      done = (await sweep(budget, env.d1.prepare(s.sql).bind(...s.params(now)), counts, s.count)) && done;
    }
    // Every part resumes from its own condition: what was deleted is no longer selected.
    return { done, counts, errors, cursor: null };
  },
};
