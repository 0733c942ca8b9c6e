import { type D1, primarySession } from "../db/session";
import type { VerifyCode } from "../errors";
import { DAY_MS, USAGE_COUNTS_PER_WRITE, USAGE_TALLIES_MAX } from "../limits";
import { type Logger, log } from "../observability/log";
import { answerHandedBack } from "../util/after-answer";
import { errorKind } from "../util/error-kind";
import { recordTokenUse, usageWriteDue } from "./usage";

/*
 * Verifications per token, day and result, counted in the isolate and written with the usage write
 * (docs/DESIGN.md §3.1, 8): a verification bumps a counter; only a verification whose usage write is due
 * (once per token and address per 5 minutes) writes, in that same batch, the counts of every token this
 * isolate holds, up to USAGE_COUNTS_PER_WRITE token-days. Counts are lost with the isolate that holds
 * them, never written twice.
 */

/** One token's counts for one UTC day, since this isolate last wrote them. */
interface Tally {
  id: string;
  day: number;
  valid: number;
  denied: number;
  dead: number;
  /** The latest dead-token attempt counted here, and its client address. */
  deadAt: number;
  deadIp: string;
  /** Has counts to write, and is in `pending` (maybe more than once: a stale entry is skipped). */
  pending: boolean;
}

const DENIED = 1;
const DEAD = 2;
/** Refusals of a token that was found: denied (live token, not covered) or dead. Other codes count nothing. */
const REFUSED: Partial<Record<VerifyCode, typeof DENIED | typeof DEAD>> = {
  permission_denied: DENIED,
  project_out_of_scope: DENIED,
  // A live token from an address its allowlist refuses: shown with the denials, as an admin wants to see it.
  ip_not_allowed: DENIED,
  token_revoked: DEAD,
  token_expired: DEAD,
  token_disabled: DEAD,
};

// Kept across writes (a token's tally is zeroed, not dropped), so a steady verification allocates nothing.
const tallies = new Map<string, Tally>();
let pending: Tally[] = [];

export interface CountingDeps {
  env: { DB: D1Database };
  waitUntil: (promise: Promise<unknown>) => void;
  log?: Logger;
}

type Outcome = { ok: true } | { ok: false; code: VerifyCode };

/**
 * Counts a verification of a token that was found, and starts the usage write when one is due: for a
 * live token (valid or denied) `lastUsedAt` and its address too; for a dead one the counts and its
 * latest attempt only. No await, no I/O unless the write is due.
 */
export function countVerification(deps: CountingDeps, tokenId: string, outcome: Outcome, ip: string, now: number) {
  const result = outcome.ok ? 0 : REFUSED[outcome.code];
  if (result === undefined) return;
  const day = now - (now % DAY_MS);
  let t = tallies.get(tokenId);
  if (t === undefined || t.day !== day) t = tallyFor(tokenId, day, t);
  if (t !== undefined) {
    if (!t.pending) {
      t.pending = true;
      pending.push(t);
    }
    if (result === 0) t.valid++;
    else if (result === DENIED) t.denied++;
    else {
      t.dead++;
      t.deadAt = now;
      t.deadIp = ip;
    }
  }
  // A dead token's attempts are written once per token and interval whatever the address, so a dead secret
  // sent from many addresses costs no more writes than from one (the tally keeps the latest address).
  if (!usageWriteDue(tokenId, result === DEAD ? "" : ip, now)) return;
  const rows = takeCounts(t);
  const write = () =>
    result === DEAD
      ? writeCounts(deps.env.DB, rows)
      : recordTokenUse(deps.env.DB, tokenId, ip, now, (db) => countStatements(db, rows));
  deps.waitUntil(
    answerHandedBack()
      .then(write)
      .catch((err: Error) =>
        (deps.log ?? log).error("store.error", { store: "d1", op: "token.usage_write", error: errorKind(err) }),
      ),
  );
}

/** A tally for a token's first count of the day; undefined when this isolate holds too many to keep another. */
function tallyFor(id: string, day: number, old: Tally | undefined): Tally | undefined {
  // An idle tally is reused; one still holding yesterday's counts stays in `pending` on its own.
  if (old !== undefined && !old.pending) {
    old.day = day;
    return old;
  }
  if (old === undefined && tallies.size >= USAGE_TALLIES_MAX) {
    for (const [key, idle] of tallies) if (!idle.pending) tallies.delete(key);
    if (tallies.size >= USAGE_TALLIES_MAX) return undefined;
  }
  const t: Tally = { id, day, valid: 0, denied: 0, dead: 0, deadAt: 0, deadIp: "", pending: false };
  tallies.set(id, t);
  return t;
}

/** [token id, day, valid, denied, dead, latest dead attempt, its address]: one token-day, as the statements read it. */
type Row = [string, number, number, number, number, number, string];

function take(t: Tally, rows: Row[]): void {
  rows.push([t.id, t.day, t.valid, t.denied, t.dead, t.deadAt, t.deadIp]);
  t.valid = t.denied = t.dead = 0;
  t.pending = false;
}

/** The verified token's counts first, then the oldest others, up to a write's share. */
function takeCounts(current: Tally | undefined): Row[] {
  const rows: Row[] = [];
  if (current?.pending) take(current, rows);
  let i = 0;
  for (; i < pending.length && rows.length < USAGE_COUNTS_PER_WRITE; i++) {
    const t = pending[i]!;
    if (t.pending) take(t, rows);
  }
  pending.splice(0, i);
  return rows;
}

/**
 * Rows of tokens since deleted are skipped (a tombstone still names the token). Additions, so isolates
 * writing the same token-day at once both count.
 */
const ADD_DAILY_COUNTS = `INSERT INTO token_daily_counts (token_id, day, valid, denied, dead)
  SELECT t.id, c.value ->> 1, c.value ->> 2, c.value ->> 3, c.value ->> 4
  FROM json_each(?1) AS c JOIN tokens AS t ON t.id = c.value ->> 0
  WHERE true
  ON CONFLICT (token_id, day) DO UPDATE SET
    valid = valid + excluded.valid, denied = denied + excluded.denied, dead = dead + excluded.dead`;

/**
 * The token's dead attempts since it stopped verifying (the earliest of revoked, expired by the attempt,
 * disabled): a count from before that instant (an earlier death the token came back from) starts over.
 */
const DIED = `min(coalesce(tokens.revoked_at, ${Number.MAX_SAFE_INTEGER}),
    coalesce(CASE WHEN tokens.expires_at <= a.at THEN tokens.expires_at END, ${Number.MAX_SAFE_INTEGER}),
    coalesce(tokens.disabled_at, ${Number.MAX_SAFE_INTEGER}))`;
const ADD_DEAD_ATTEMPTS = `UPDATE tokens SET
    dead_attempts = CASE WHEN tokens.dead_attempt_at IS NULL OR (tokens.dead_attempt_at < ${DIED} AND ${DIED} <= a.at)
      THEN a.n ELSE tokens.dead_attempts + a.n END,
    dead_attempt_at = CASE WHEN tokens.dead_attempt_at > a.at THEN tokens.dead_attempt_at ELSE a.at END,
    dead_attempt_ip = CASE WHEN tokens.dead_attempt_at > a.at THEN tokens.dead_attempt_ip ELSE a.ip END
  FROM (SELECT c.value ->> 0 AS id, sum(c.value ->> 4) AS n, max(c.value ->> 5) AS at, c.value ->> 6 AS ip
        FROM json_each(?1) AS c WHERE c.value ->> 4 > 0 GROUP BY 1) AS a
  WHERE tokens.id = a.id`;

function countStatements(db: D1, rows: Row[]): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const json = JSON.stringify(rows);
  const statements = [db.prepare(ADD_DAILY_COUNTS).bind(json)];
  if (rows.some((r) => r[4] > 0)) statements.push(db.prepare(ADD_DEAD_ATTEMPTS).bind(json));
  return statements;
}

async function writeCounts(binding: D1Database, rows: Row[]): Promise<void> {
  const db = primarySession(binding);
  const statements = countStatements(db, rows);
  if (statements.length > 0) await db.batch(statements);
}

/** A fresh isolate's counters (tests). */
export function forgetUsageCounts(): void {
  tallies.clear();
  pending = [];
}
