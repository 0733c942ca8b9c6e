import { type D1, primarySession } from "../db/session";
import { LAST_USED_IPS_KEPT, LAST_USED_WRITE_INTERVAL_MS } from "../limits";

// When this isolate last wrote usage for a token and address: most verifications write nothing.
const lastWritten = new Map<string, number>();
const USAGE_MEMO_MAX = 50_000;

/** True when this verification should record usage; at most once per token and address per interval. */
export function usageWriteDue(tokenId: string, ip: string, now: number): boolean {
  const key = `${tokenId} ${ip}`;
  const last = lastWritten.get(key);
  if (last !== undefined && now - last < LAST_USED_WRITE_INTERVAL_MS) return false;
  if (lastWritten.size >= USAGE_MEMO_MAX) lastWritten.clear();
  lastWritten.set(key, now);
  return true;
}

export function forgetUsageWrites(): void {
  lastWritten.clear();
}

/**
 * `lastUsedAt` and the last distinct addresses, in one batch. The memo above is per isolate, so the
 * statements carry the interval too: another isolate's write within it changes no row.
 */
export async function recordTokenUse(
  binding: D1Database,
  tokenId: string,
  ip: string,
  now: number,
  /** More statements for the same batch (the verification counts, worker/tokens/usage-counts.ts). */
  more: (db: D1) => D1PreparedStatement[] = () => [],
): Promise<void> {
  const db = primarySession(binding);
  const staleBefore = now - LAST_USED_WRITE_INTERVAL_MS;
  await db.batch([
    db
      .prepare("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)")
      .bind(tokenId, now, staleBefore),
    db
      .prepare(
        "INSERT INTO token_usage (token_id, ip, last_seen_at) VALUES (?1, ?2, ?3) ON CONFLICT (token_id, ip) DO UPDATE SET last_seen_at = excluded.last_seen_at WHERE token_usage.last_seen_at <= ?4",
      )
      .bind(tokenId, ip, now, staleBefore),
    db
      .prepare(
        "DELETE FROM token_usage WHERE token_id = ?1 AND ip NOT IN (SELECT ip FROM token_usage WHERE token_id = ?1 ORDER BY last_seen_at DESC LIMIT ?2)",
      )
      .bind(tokenId, LAST_USED_IPS_KEPT),
    ...more(db),
  ]);
}
