import { DAY_MS } from "../limits";
import { PURGE_WARNING_DAYS } from "../orgs/policies";
import type { RunBudget } from "./budget";
import type { JobEnv } from "./job";
import { type Keyset, parseKeyset, SCAN_START } from "./keyset";
import {
  type DueToken,
  NOTICE_CHUNK_ROWS,
  type NoticeSpec,
  type NoticeState,
  sendNoticeChunk,
  tokenRef,
} from "./notice-delivery";
import { CRON_MAX_ROWS_PER_JOB, NOTICE_CLAIM_TIMEOUT_MS, purgeUnusedAfterDays } from "./schedule";

export const PURGE_WARNING_EVENT = "token.purge_warning";

/*
 * Purge warnings (docs/CRON.md): PURGE_WARNING_DAYS before the purge (./purge.ts) deletes a token with no
 * expiry left unused, its organization's webhook hears `token.purge_warning`, once per idle period: the mark
 * is the period's start (its last use, or its creation), so a use or a "Keep" starts a new period that gets
 * its own warning, and a retry of the same one carries the same webhook id. Like the purge, two walks of
 * `tokens_purge` with keyset cursors, over the tokens whose purge falls in the next PURGE_WARNING_DAYS.
 */

const WALKS = {
  warnNeverUsed: {
    column: "created_at",
    where: "t.expires_at IS NULL AND t.last_used_at IS NULL AND t.created_at <= ?1 AND t.created_at > ?2",
  },
  warnUnused: {
    column: "last_used_at",
    where: "t.expires_at IS NULL AND t.last_used_at <= ?1 AND t.last_used_at > ?2",
  },
} as const;
type Walk = keyof typeof WALKS;

interface DueWarning extends DueToken {
  at: number;
}

function spec(purgeDays: number): NoticeSpec {
  return {
    type: PURGE_WARNING_EVENT,
    audit: PURGE_WARNING_EVENT,
    dueById: `+expires_at IS NULL AND +revoked_at IS NULL AND coalesce(+last_used_at, +created_at) = MARK
      AND (+purge_warned_for IS NULL OR +purge_warned_for <> MARK)`,
    sentColumn: "purgeWarnedFor",
    messageId: (t) => `msg_purge_warning_${t.id}_${t.mark}`,
    data: (t) => ({
      purgeAt: new Date(t.mark + purgeDays * DAY_MS).toISOString(),
      unusedSince: new Date(t.mark).toISOString(),
      unusedDays: purgeDays,
      token: tokenRef(t),
    }),
    detail: (t, result) => ({
      name: t.name,
      purgeAt: t.mark + purgeDays * DAY_MS,
      deliveryId: result.deliveryId,
      status: result.status,
    }),
  };
}

/** Both walks from their cursors; answers where each stopped (null: at its end). */
export async function purgeWarnings(
  env: JobEnv,
  budget: RunBudget,
  stored: Record<string, unknown>,
  now: number,
  state: NoticeState,
): Promise<Record<Walk, Keyset | null>> {
  const purgeDays = purgeUnusedAfterDays(env);
  const warnFrom = now - Math.max(purgeDays - PURGE_WARNING_DAYS, 0) * DAY_MS;
  const purgeAt = now - purgeDays * DAY_MS;
  const notice = spec(purgeDays);
  const next = {} as Record<Walk, Keyset | null>;
  let handled = 0;
  for (const name of Object.keys(WALKS) as Walk[]) {
    const { column, where } = WALKS[name];
    let position = parseKeyset(stored[name]) ?? SCAN_START;
    next[name] = position;
    for (;;) {
      if (handled >= CRON_MAX_ROWS_PER_JOB || !budget.fits({ d1: 3, webhooks: 1 })) break;
      const { results } = await env.d1
        .prepare(
          `SELECT t.id, t.name, t.kind, t.${column} AS at, t.${column} AS mark, t.org_id, o.slug AS org_slug,
                  g.slug AS group_slug, t.user_id, o.webhook_url, o.webhook_secret
           FROM tokens t JOIN organizations o ON o.id = t.org_id LEFT JOIN groups g ON g.id = t.group_id
           WHERE ${where} AND +t.revoked_at IS NULL AND o.webhook_url IS NOT NULL AND o.webhook_secret IS NOT NULL
             AND (+t.purge_warned_for IS NULL OR +t.purge_warned_for <> t.${column})
             AND (+t.notice_claim_at IS NULL OR +t.notice_claim_at < ?3)
             AND (t.${column}, t.id) > (?4, ?5)
           ORDER BY t.${column}, t.id LIMIT ?6`,
        )
        .bind(warnFrom, purgeAt, now - NOTICE_CLAIM_TIMEOUT_MS, position.at, position.id, NOTICE_CHUNK_ROWS)
        .all<DueWarning>();
      budget.spend({ d1: 1 });
      if (results.length === 0) {
        next[name] = null;
        break;
      }
      handled += results.length;
      const left = await sendNoticeChunk(env.d1, budget, notice, results, now, state, {
        sent: "purgeWarnings",
        failed: "failed",
        deferred: "deferred",
      });
      // Notices left for a later run: stay before this chunk.
      if (left) break;
      const last = results[results.length - 1]!;
      position = { at: last.at, id: last.id };
      next[name] = position;
      if (results.length < NOTICE_CHUNK_ROWS) {
        next[name] = null;
        break;
      }
    }
  }
  return next;
}
