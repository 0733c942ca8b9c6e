import { and, desc, eq, gte } from "drizzle-orm";
import type { Db } from "../db/client";
import { tokenDailyCounts, tokenUsage } from "../db/schema";
import { DAY_MS, USAGE_WINDOW_DAYS } from "../limits";

/** One UTC day of a token's verifications: valid, denied (permission or project) and attempts while dead. */
export interface UsageDay {
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  valid: number;
  denied: number;
  dead: number;
}

export interface TokenUsageReport {
  /** Every day of the window, oldest first, today last; a day without a verification counts zeros. */
  days: UsageDay[];
  totals: { valid: number; denied: number; dead: number };
  /** The last distinct client addresses that used the token, newest first. */
  addresses: { ip: string; lastSeenAt: string }[];
}

/** The first millisecond of `now`'s UTC day. */
export const dayOf = (now: number) => now - (now % DAY_MS);

/** The first day of the window that ends today: counts before it are no longer kept. */
export const windowStart = (now: number) => dayOf(now) - (USAGE_WINDOW_DAYS - 1) * DAY_MS;

/** The usage chart of one token the caller may see (the route checked that). */
export async function tokenUsageReport(db: Db, tokenId: string, now: number): Promise<TokenUsageReport> {
  const first = windowStart(now);
  const [counts, addresses] = await db.batch([
    db
      .select()
      .from(tokenDailyCounts)
      .where(and(eq(tokenDailyCounts.tokenId, tokenId), gte(tokenDailyCounts.day, first))),
    db.select().from(tokenUsage).where(eq(tokenUsage.tokenId, tokenId)).orderBy(desc(tokenUsage.lastSeenAt)),
  ]);
  const byDay = new Map(counts.map((c) => [c.day, c]));
  const totals = { valid: 0, denied: 0, dead: 0 };
  const days: UsageDay[] = [];
  for (let day = first; day <= dayOf(now); day += DAY_MS) {
    const c = byDay.get(day);
    const valid = c?.valid ?? 0;
    const denied = c?.denied ?? 0;
    const dead = c?.dead ?? 0;
    totals.valid += valid;
    totals.denied += denied;
    totals.dead += dead;
    days.push({ day: new Date(day).toISOString().slice(0, 10), valid, denied, dead });
  }
  return {
    days,
    totals,
    addresses: addresses.map((a) => ({ ip: a.ip, lastSeenAt: new Date(a.lastSeenAt).toISOString() })),
  };
}
