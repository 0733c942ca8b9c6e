import type { D1 } from "../db/session";
import { placeholders } from "../db/slices";
import type { CronJob, JobOutcome, JobRun } from "./job";
import { readCursor } from "./keyset";
import { CRON_CHUNK_ROWS, CRON_MAX_ROWS_PER_JOB, GRACE_CURSOR_CHARS } from "./schedule";

/*
 * A rotation's old secret stops verifying at `old_hash_until` by the clock (worker/tokens/rotation.ts),
 * so this job closes no hole: it takes the dead hash out of the row, where every verify miss still looked
 * it up (`hash = ? OR old_hash = ?`) and `tokens_old_hash` still indexed it. No cache write and no version
 * bump: the entry under the old hash says its own end, and the token's grant, which the new secret's
 * entry holds, is unchanged.
 */

// ?1 = now. The scan walks `tokens_old_hash` (p = ""); statements on an id list use the primary key (p = "+").
const due = (p: "" | "+") => `${p}old_hash IS NOT NULL AND +old_hash_until <= ?1`;

/**
 * The old secret ran out by the clock only if it was still working then: a token revoked or expired
 * first took its old secret with it, and said so with its own event.
 */
const RAN_OUT =
  "(+revoked_at IS NULL OR +revoked_at > +old_hash_until) AND (+expires_at IS NULL OR +expires_at > +old_hash_until)";

// Worst case per chunk: the select and one batch.
const CHUNK_COST = { d1: 2 };

/**
 * The event and the clearing in one transaction, both conditional on the row still holding a due old
 * hash: a second run, End grace now or a regenerate in between leaves nothing to record twice. The old
 * secret's addresses go with it, as with End grace now; its last use stays in the event.
 */
async function endChunk(d1: D1, ids: string[], now: number): Promise<{ cleared: number; recorded: number }> {
  const inList = `id IN (${placeholders(ids.length, 2)})`;
  // Counted by RETURNING: `meta.changes` would count the webhook outbox rows the audit trigger adds too.
  const [recorded, cleared] = await d1.batch<{ id: string }>([
    d1
      .prepare(
        `INSERT INTO audit_events (org_id, at, actor_type, actor_id, action, target_type, target_id, ip, detail)
         SELECT org_id, ?1, 'system', NULL, 'token.grace_ended', 'token', id, NULL,
                json_object('name', name, 'until', old_hash_until, 'oldSecretUsedAt', old_secret_used_at, 'reason', 'expired')
         FROM tokens WHERE ${inList} AND ${due("+")} AND ${RAN_OUT}
         RETURNING id`,
      )
      .bind(now, ...ids),
    d1
      .prepare(
        `UPDATE tokens SET old_hash = NULL, old_hash_until = NULL, old_secret_used_at = NULL, old_secret_ips = NULL
         WHERE ${inList} AND ${due("+")} RETURNING id`,
      )
      .bind(now, ...ids),
  ]);
  return { cleared: cleared!.results.length, recorded: recorded!.results.length };
}

/** Rotations whose grace ran out: the old hash cleared, and `token.grace_ended` (reason `expired`) once each. */
export const graceJob: CronJob = {
  name: "grace",
  async run({ env, now, budget, cursor }: JobRun): Promise<JobOutcome> {
    const counts = { cleared: 0, graceEnded: 0 };
    // A position in hash order. Only its first characters are kept: enough to place the walk, and no whole
    // hash of a secret that is gone outlives its row in `job_state`.
    const stored = readCursor(cursor) as { after?: unknown } | null;
    let after = typeof stored?.after === "string" ? stored.after : "";
    const outcome = (done: boolean): JobOutcome => ({
      done,
      counts,
      errors: [],
      // A finished walk starts over next run, for graces that ended behind it.
      cursor: done ? null : JSON.stringify({ after }),
    });

    for (let handled = 0; handled < CRON_MAX_ROWS_PER_JOB; handled += CRON_CHUNK_ROWS) {
      if (!budget.fits(CHUNK_COST)) return outcome(false);
      // `old_hash > ?2` also leaves out the NULLs, so the walk reads only rows that have an old hash.
      const { results } = await env.d1
        .prepare(`SELECT id, old_hash FROM tokens WHERE old_hash > ?2 AND ${due("")} ORDER BY old_hash LIMIT ?3`)
        .bind(now, after, CRON_CHUNK_ROWS)
        .all<{ id: string; old_hash: string }>();
      budget.spend({ d1: 1 });
      if (results.length === 0) return outcome(true);

      const ended = await endChunk(
        env.d1,
        results.map((r) => r.id),
        now,
      );
      budget.spend({ d1: 1 });
      counts.cleared += ended.cleared;
      counts.graceEnded += ended.recorded;

      after = results[results.length - 1]!.old_hash.slice(0, GRACE_CURSOR_CHARS);
      if (results.length < CRON_CHUNK_ROWS) return outcome(true);
    }
    return outcome(false);
  },
};
