import type { D1 } from "../db/session";
import { DAY_MS } from "../limits";
import { DEFAULT_NOTICE_DAYS } from "../orgs/policies";
import type { RunBudget } from "./budget";
import type { CronJob, JobOutcome, JobRun } from "./job";
import { type Keyset, parseKeyset, readCursor, SCAN_START } from "./keyset";
import {
  type DueToken,
  NOTICE_CHUNK_ROWS,
  type NoticeSpec,
  type NoticeState,
  sendNoticeChunk,
  tokenRef,
} from "./notice-delivery";
import { purgeWarnings } from "./purge-warnings";
import { CRON_MAX_ROWS_PER_JOB, NOTICE_CLAIM_TIMEOUT_MS } from "./schedule";

export const EXPIRY_NOTICE_EVENT = "token.expiring";

/*
 * Expiry notices at the organization's lead times (`org_policies.expiry_notice_days`, 30, 7 and 1 days by
 * default). A token is due the notice of the smallest lead time it is within, unless a notice of that lead
 * time or a smaller one went out for its current expiry (`notified_days`): a token made with less than a day
 * left gets the 1-day notice only, never a late 30-day one. Changing its expiry (a renewal, a policy cut)
 * starts its notices over.
 */

const DEFAULT_DAYS_JSON = JSON.stringify(DEFAULT_NOTICE_DAYS);
/** The lead time a token is due for: `?1` now, `?7` the default lead times. */
const dueDays = (t: string) =>
  `(SELECT min(j.value) FROM json_each(coalesce(p.expiry_notice_days, ?7)) j WHERE ${t}expires_at <= ?1 + j.value * ${DAY_MS})`;

interface DueNotice extends DueToken {
  expires_at: number;
}

/**
 * The window is (now, now + the longest lead time any organization chose], walked in `tokens_expires` order;
 * ?1 now, ?2 the window's end, ?3 the oldest claim still honoured, ?4 ?5 the keyset, ?6 the chunk.
 */
async function selectDue(d1: D1, now: number, until: number, from: Keyset): Promise<DueNotice[]> {
  const { results } = await d1
    .prepare(
      `SELECT t.id, t.name, t.kind, t.expires_at, t.org_id, o.slug AS org_slug, g.slug AS group_slug, t.user_id,
              o.webhook_url, o.webhook_secret, ${dueDays("t.")} AS mark
       FROM tokens t JOIN organizations o ON o.id = t.org_id LEFT JOIN groups g ON g.id = t.group_id
         LEFT JOIN org_policies p ON p.org_id = t.org_id
       WHERE t.expires_at > ?1 AND t.expires_at <= ?2 AND +t.revoked_at IS NULL
         AND o.webhook_url IS NOT NULL AND o.webhook_secret IS NOT NULL
         AND (+t.notice_claim_at IS NULL OR +t.notice_claim_at < ?3)
         AND (t.expires_at, t.id) > (?4, ?5)
         AND mark IS NOT NULL AND (+t.notified_days IS NULL OR mark < +t.notified_days)
       ORDER BY t.expires_at, t.id LIMIT ?6`,
    )
    .bind(now, until, now - NOTICE_CLAIM_TIMEOUT_MS, from.at, from.id, NOTICE_CHUNK_ROWS, DEFAULT_DAYS_JSON)
    .all<DueNotice>();
  return results;
}

/** The longest lead time any organization uses: the window the scan must cover. */
async function longestLead(d1: D1): Promise<number> {
  const row = await d1
    .prepare("SELECT max(j.value) AS days FROM org_policies p, json_each(p.expiry_notice_days) j")
    .first<{ days: number | null }>();
  return Math.max(row?.days ?? 0, ...DEFAULT_NOTICE_DAYS);
}

const EXPIRY_NOTICE: NoticeSpec = {
  type: EXPIRY_NOTICE_EVENT,
  audit: "token.expiry_notice",
  dueById: `+revoked_at IS NULL AND +expires_at > ?1 AND +expires_at <= ?1 + MARK * ${DAY_MS}
    AND (+notified_days IS NULL OR +notified_days > MARK)`,
  sentColumn: "notifiedDays",
  // One event per token, lead time and expiry, so every retry of it carries the same id, and a new
  // expiry's notices are new events (`msg_notice_7d_<id>_<expiry, epoch ms>`).
  messageId: (t) => `msg_notice_${t.mark}d_${t.id}_${(t as DueNotice).expires_at}`,
  data: (t) => ({
    threshold: `${t.mark}d`,
    expiresAt: new Date((t as DueNotice).expires_at).toISOString(),
    token: tokenRef(t),
  }),
  detail: (t, result) => ({
    name: t.name,
    threshold: `${t.mark}d`,
    expiresAt: (t as DueNotice).expires_at,
    deliveryId: result.deliveryId,
    status: result.status,
  }),
};

/** The window from the cursor to its end, or until the budget stops it. Answers where it stopped, null at the end. */
async function expiryPass(
  d1: D1,
  budget: RunBudget,
  from: Keyset | null,
  now: number,
  state: NoticeState,
): Promise<Keyset | null> {
  let position = from ?? SCAN_START;
  if (!budget.fits({ d1: 4, webhooks: 1 })) return position;
  const until = now + (await longestLead(d1)) * DAY_MS;
  budget.spend({ d1: 1 });
  // Worst case per chunk: select, claim, finalize; and at least one delivery.
  for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += NOTICE_CHUNK_ROWS) {
    if (!budget.fits({ d1: 3, webhooks: 1 })) return position;
    const due = await selectDue(d1, now, until, position);
    budget.spend({ d1: 1 });
    if (due.length === 0) return null;
    const left = await sendNoticeChunk(d1, budget, EXPIRY_NOTICE, due, now, state, {
      sent: "sent",
      failed: "failed",
      deferred: "deferred",
    });
    if (left) return position;
    const last = due[due.length - 1]!;
    position = { at: last.expires_at, id: last.id };
    if (due.length < NOTICE_CHUNK_ROWS) return null;
  }
  return position;
}

/**
 * Expiry notices at each organization's lead times, once per token and lead time; then purge warnings, 7 days
 * before an idle token with no expiry is purged (./purge-warnings.ts). Both through the organization's webhook.
 */
export const noticesJob: CronJob = {
  name: "notices",
  async run({ env, now, budget, cursor }: JobRun): Promise<JobOutcome> {
    const stored = (readCursor(cursor) ?? {}) as Record<string, unknown>;
    const state: NoticeState = {
      counts: { sent: 0, failed: 0, deferred: 0, purgeWarnings: 0 },
      errors: [],
      failedOrgs: new Set(),
    };
    const expiry = await expiryPass(env.d1, budget, parseKeyset(stored.expiry), now, state);
    const warnings = await purgeWarnings(env, budget, stored, now, state);
    const done = expiry === null && Object.values(warnings).every((k) => k === null);
    return { done, counts: state.counts, errors: state.errors, cursor: JSON.stringify({ expiry, ...warnings }) };
  },
};
