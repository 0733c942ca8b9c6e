import { LOGIN_WINDOW_MS } from "../accounts/limits";
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "../limits";
import { log } from "../observability/log";

// Every number the cron trigger works by, in one place (docs/CRON.md explains each).

// --- What the jobs do, and when -------------------------------------------------------------

/**
 * SonarQube Cloud's rule: a token with no expiry unused for this many days (never used: since it was
 * made) is deleted. The `PURGE_UNUSED_AFTER_DAYS` var in wrangler.toml overrides it.
 */
export const PURGE_UNUSED_AFTER_DAYS = 60;

// Expiry notice lead times (30, 7 and 1 days by default) and the purge warning's 7 days are an
// organization's policies: worker/orgs/policies.ts.

/** Revoked and expired tokens stay listed (for audit) this many days after they died, then are erased. */
export const DEAD_TOKEN_RETENTION_DAYS = 30;

/**
 * Invitations stay (for the members screen's history and the audit labels) this many days after they
 * were accepted, revoked or expired; their events stay in the audit log.
 */
export const ENDED_INVITATION_RETENTION_DAYS = 30;

/** Audit events older than this are deleted (GitHub keeps 180 days, GitLab a year; we keep a year). */
export const AUDIT_RETENTION_DAYS = 365;

/** Failed-login counters whose window has ended lock nobody out any more (worker/accounts/limits.ts). */
export const LOGIN_THROTTLE_ROW_MAX_AGE_MS = LOGIN_WINDOW_MS;

// --- How much one run may do (D1, KV and subrequest limits per invocation) ------------------

/** Token ids per statement: the id list plus a few values stays far under D1's 100 bound parameters. */
export const CRON_CHUNK_ROWS = 50;

/** Most statements the jobs put in one `db.batch` (one D1 transaction). */
export const CRON_MAX_BATCH_STATEMENTS = 50;

/** Rows each sweep statement (sessions, login counters, audit events) deletes at most. */
export const CRON_SWEEP_ROWS = 1_000;

/** Rows each job handles per run at most (per table for sweeps), so one backlog cannot starve the others. */
export const CRON_MAX_ROWS_PER_JOB = 5_000;

/**
 * Per-invocation budget of the whole run. Workers Paid allows 1,000 D1 queries, 1,000 KV operations
 * and 1,000 subrequests per invocation; the run stops well before, and the next run resumes.
 */
export const CRON_MAX_D1_QUERIES = 800;
export const CRON_MAX_KV_OPERATIONS = 800;
export const CRON_MAX_WEBHOOKS = 200;
/** Wall time after which no new chunk starts (a scheduled invocation may run for minutes; this keeps runs short). */
export const CRON_TIME_BUDGET_MS = 30 * SECOND_MS;

/**
 * A job's lease against overlapping runs. Longer than any run can take, shorter than the 15-minute
 * interval, so a run that died holding it does not skip the next one.
 */
export const CRON_LEASE_MS = 10 * MINUTE_MS;

/**
 * Tokens expire in `expires_at` order and are never made with a past expiry (a policy cut aside), so the expiry job's
 * keyset cursor only moves forward. It resumes this far behind where it stopped, so a token made
 * where the clock runs slightly behind is still reached.
 */
export const EXPIRY_CURSOR_SLACK_MS = HOUR_MS;
/**
 * ... and starts over from the beginning this often, for tokens written behind it (a restore, a script);
 * a saved lifetime policy, whose cut can do the same, starts it over at once (worker/cron/expiry.ts).
 */
export const EXPIRY_FULL_SCAN_INTERVAL_MS = DAY_MS;

/**
 * Characters of a hash the grace job's cursor keeps (of 64 hex): 64 bits place the walk as well as the
 * whole hash would, and no whole hash of a dead secret is left in `job_state`.
 */
export const GRACE_CURSOR_CHARS = 16;

/** A notice claimed but neither sent nor released this long ago (its run died) may be claimed again. */
export const NOTICE_CLAIM_TIMEOUT_MS = CRON_LEASE_MS;

/** Webhook deliveries in flight at once (Workers allow six open connections per invocation). */
export const WEBHOOK_CONCURRENCY = 6;

// --- Settings read from wrangler.toml ------------------------------------------------------------

/** Days without use before a token with no expiry is purged: the var when it is a whole number >= 1, else the constant. */
export function purgeUnusedAfterDays(env: Pick<Env, "PURGE_UNUSED_AFTER_DAYS">): number {
  const raw = (env.PURGE_UNUSED_AFTER_DAYS as string | undefined)?.trim();
  const days = raw ? Number(raw) : Number.NaN;
  if (Number.isInteger(days) && days >= 1) return days;
  if (raw)
    log.warn("config.invalid", {
      setting: "PURGE_UNUSED_AFTER_DAYS",
      problem: "not a whole number of days >= 1",
      using: PURGE_UNUSED_AFTER_DAYS,
    });
  return PURGE_UNUSED_AFTER_DAYS;
}
