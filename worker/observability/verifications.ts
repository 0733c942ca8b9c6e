import type { CachedToken } from "../tokens/cached";
import { errorKind } from "../util/error-kind";
import type { VerifyOutcome } from "../verify/core";
import { type Logger, log } from "./log";

/** The tier that answered: the cache's three, or none when the answer came before (or without) any lookup. */
export type Tier = "memory" | "kv" | "d1" | "none";

/** What one verification decided, and what it knew when it did. */
export interface Verification {
  outcome: VerifyOutcome;
  tier: Tier;
  /** The token the hash resolved to; null when none did (missing, malformed, unknown, a store down). */
  token: Pick<CachedToken, "id" | "kind" | "orgId"> | null;
}

/** `blob3` of a successful verification; the other values are the failure codes (worker/errors.ts). */
export const VALID = "valid";

/**
 * One Analytics Engine data point per verification (docs/OBSERVABILITY.md, "Analytics Engine"):
 * index1 = org id (the sampling key), blob1 = token id, blob2 = kind, blob3 = result code, blob4 = tier,
 * double1 = microseconds, double2 = 1 (a count that survives sampling as `_sample_interval * double2`).
 * `writeDataPoint` queues the write and returns nothing to await; a throwing binding is logged and
 * the answer goes out unchanged. A refusal also gets its log line, by code, once a tier was asked.
 */
export function recordVerification(
  dataset: AnalyticsEngineDataset,
  { outcome, tier, token }: Verification,
  microseconds: number,
  logger: Logger = log,
): void {
  const code = outcome.ok ? VALID : outcome.code;
  try {
    dataset.writeDataPoint({
      indexes: token ? [token.orgId] : [],
      blobs: [token?.id ?? "", token?.kind ?? "", code, tier],
      doubles: [microseconds, 1],
    });
  } catch (err) {
    logger.error("store.error", { store: "analytics", op: "verification.write", error: errorKind(err) });
  }
  // A refusal made before any lookup (no token, a malformed one, a bad query, a blocked client) costs its
  // sender nothing, so logging each would let anyone fill the logs: those are counted in the dataset only.
  if (!outcome.ok && (tier !== "none" || code === "unavailable")) {
    logger.info("verify.failed", {
      code,
      tier,
      tokenId: token?.id,
      orgId: token?.orgId,
      kind: token?.kind,
      us: microseconds,
    });
  }
}
