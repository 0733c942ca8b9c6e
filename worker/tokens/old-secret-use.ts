import { primarySession } from "../db/session";
import { LAST_USED_IPS_KEPT, LAST_USED_WRITE_INTERVAL_MS } from "../limits";
import { log } from "../observability/log";
import { answerHandedBack } from "../util/after-answer";
import { errorKind } from "../util/error-kind";
import type { VerifyDeps } from "../verify/core";

// When this isolate last wrote a replaced secret's use, per token and address: most uses write nothing.
const lastWritten = new Map<string, number>();
const MEMO_MAX = 10_000;

/**
 * A use of a token's replaced secret during its grace period, so its details can say whether it is still
 * used, when last and from where (docs/DESIGN.md §2). At most once per token and address per interval,
 * after the answer; the statement changes nothing once that secret was ended or replaced (`old_hash`).
 */
export function noteOldSecretUse(deps: VerifyDeps, tokenId: string, hash: string, ip: string, now: number): void {
  const key = `${tokenId} ${ip}`;
  const last = lastWritten.get(key);
  if (last !== undefined && now - last < LAST_USED_WRITE_INTERVAL_MS) return;
  if (lastWritten.size >= MEMO_MAX) lastWritten.clear();
  lastWritten.set(key, now);
  deps.waitUntil(
    answerHandedBack()
      .then(() => recordOldSecretUse(deps.env.DB, tokenId, hash, ip, now))
      .catch((err: Error) =>
        (deps.log ?? log).error("store.error", { store: "d1", op: "token.usage_write", error: errorKind(err) }),
      ),
  );
}

/** The newest address first, then the earlier ones without it, LAST_USED_IPS_KEPT at most. */
export async function recordOldSecretUse(
  binding: D1Database,
  tokenId: string,
  hash: string,
  ip: string,
  now: number,
): Promise<void> {
  await primarySession(binding)
    .prepare(
      `UPDATE tokens SET old_secret_used_at = ?3,
         old_secret_ips = (SELECT json_group_array(ip) FROM (
           SELECT ?4 AS ip UNION ALL
           SELECT value FROM json_each(coalesce(tokens.old_secret_ips, '[]')) WHERE value <> ?4 LIMIT ?5))
       WHERE id = ?1 AND old_hash = ?2`,
    )
    .bind(tokenId, hash, now, ip, LAST_USED_IPS_KEPT)
    .run();
}

export function forgetOldSecretWrites(): void {
  lastWritten.clear();
}
