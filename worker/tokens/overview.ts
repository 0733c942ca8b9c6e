import { and, desc, eq, gt, gte, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { tokenDailyCounts, tokens } from "../db/schema";
import {
  DAY_MS,
  OVERVIEW_EXPIRING_DAYS,
  OVERVIEW_REFUSED_DAYS,
  OVERVIEW_TOP_REFUSED,
  OVERVIEW_UNUSED_DAYS,
} from "../limits";
import { countTokensByStatus, filterConditions, type TokenListFilter } from "./list";
import { type TokenStatus, tokenStatus } from "./status";
import { dayOf } from "./usage-report";

/** A token among the most refused this week: refusals for a permission or project, and attempts while dead. */
export interface RefusedToken {
  id: string;
  name: string;
  kind: "org" | "group" | "personal";
  status: TokenStatus;
  denied: number;
  dead: number;
}

/** The organization at a glance, over the tokens the caller manages (docs/API.md "Overview"). */
export interface OrgOverview {
  statuses: Record<TokenStatus, number>;
  /** Usable tokens (not disabled) that expire within 7 and within 30 days. */
  expiring: { days7: number; days30: number };
  /** Usable tokens not used for 30 days or more (never used: made 30 or more days ago). */
  unused: number;
  /** Verifications of these tokens over the last 7 days, today included. */
  week: { valid: number; denied: number; dead: number };
  /** The tokens refused most over the same days, most first; only tokens refused at least once. */
  refused: RefusedToken[];
}

const n = (v: unknown) => Number(v ?? 0);

export async function orgOverview(db: Db, filter: TokenListFilter, now: number): Promise<OrgOverview> {
  const statuses = await countTokensByStatus(db, filter, now);
  const conditions = filterConditions(filter, now);
  const empty = {
    statuses,
    expiring: { days7: 0, days30: 0 },
    unused: 0,
    week: { valid: 0, denied: 0, dead: 0 },
    refused: [],
  };
  if (!conditions) return empty;
  const [in7, in30] = OVERVIEW_EXPIRING_DAYS.map((d) => now + d * DAY_MS) as [number, number];
  const usable = and(
    isNull(tokens.revokedAt),
    isNull(tokens.disabledAt),
    or(isNull(tokens.expiresAt), gt(tokens.expiresAt, now)),
  );
  const unusedSince = now - OVERVIEW_UNUSED_DAYS * DAY_MS;
  const since = dayOf(now) - (OVERVIEW_REFUSED_DAYS - 1) * DAY_MS;
  const denied = sql<number>`sum(${tokenDailyCounts.denied})`;
  const dead = sql<number>`sum(${tokenDailyCounts.dead})`;
  const weekRows = and(eq(tokens.id, tokenDailyCounts.tokenId), gte(tokenDailyCounts.day, since), ...conditions);
  const [[counts], [week], top] = await db.batch([
    db
      .select({
        days7: sql<number>`sum(${tokens.expiresAt} < ${in7})`.as("days7"),
        days30: sql<number>`sum(${tokens.expiresAt} < ${in30})`.as("days30"),
        unused: sql<number>`sum(coalesce(${tokens.lastUsedAt}, ${tokens.createdAt}) <= ${unusedSince})`.as("unused"),
      })
      .from(tokens)
      .where(and(usable, ...conditions)),
    db
      .select({
        valid: sql<number>`sum(${tokenDailyCounts.valid})`.as("valid"),
        denied: denied.as("denied"),
        dead: dead.as("dead"),
      })
      .from(tokenDailyCounts)
      .innerJoin(tokens, weekRows),
    db
      .select({
        id: tokens.id,
        name: tokens.name,
        kind: tokens.kind,
        expiresAt: tokens.expiresAt,
        disabledAt: tokens.disabledAt,
        revokedAt: tokens.revokedAt,
        denied,
        dead,
      })
      .from(tokenDailyCounts)
      .innerJoin(tokens, weekRows)
      .groupBy(tokens.id)
      .having(sql`${denied} + ${dead} > 0`)
      .orderBy(desc(sql`${denied} + ${dead}`), tokens.id)
      .limit(OVERVIEW_TOP_REFUSED),
  ]);
  return {
    statuses,
    expiring: { days7: n(counts?.days7), days30: n(counts?.days30) },
    unused: n(counts?.unused),
    week: { valid: n(week?.valid), denied: n(week?.denied), dead: n(week?.dead) },
    refused: top.map((t) => ({
      id: t.id,
      name: t.name,
      kind: t.kind,
      status: tokenStatus(t, now),
      denied: n(t.denied),
      dead: n(t.dead),
    })),
  };
}
