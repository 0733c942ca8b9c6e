import { and, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { type TokenKind, tokens } from "../db/schema";
import { EXPIRING_WINDOW_MS } from "../limits";
import type { TokenStatus } from "./status";
import { type TokenView, tokenViews } from "./views";

export interface TokenListFilter {
  orgId?: string;
  /** Personal tokens of this person. */
  userId?: string;
  kinds: TokenKind[];
  /** When set, only tokens of these groups (what a group admin manages). */
  withinGroups?: string[];
  /** One group's tokens. */
  groupId?: string;
  statuses?: TokenStatus[];
  /** Case-insensitive search in name, description and hint, or an exact id. */
  q?: string;
}

/** The SQL twin of `tokenStatus(fields, now)`: the same order of precedence, evaluated by D1. */
function statusCondition(status: TokenStatus, now: number): SQL {
  const live = isNull(tokens.revokedAt);
  const notExpired = or(isNull(tokens.expiresAt), gt(tokens.expiresAt, now))!;
  switch (status) {
    case "revoked":
      return isNotNull(tokens.revokedAt);
    case "expired":
      return and(live, isNotNull(tokens.expiresAt), lte(tokens.expiresAt, now))!;
    case "disabled":
      return and(live, notExpired, isNotNull(tokens.disabledAt))!;
    case "expiring":
      return and(
        live,
        isNull(tokens.disabledAt),
        gt(tokens.expiresAt, now),
        lt(tokens.expiresAt, now + EXPIRING_WINDOW_MS),
      )!;
    case "active":
      return and(
        live,
        isNull(tokens.disabledAt),
        or(isNull(tokens.expiresAt), gte(tokens.expiresAt, now + EXPIRING_WINDOW_MS)),
      )!;
  }
}

/** Newest first, filtered in SQL (status included, from the fields and `now`), cursor-paged. */
export async function listTokens(
  db: Db,
  filter: TokenListFilter,
  page: { cursor?: string; limit: number },
  now: number,
): Promise<Page<TokenView>> {
  if (filter.kinds.length === 0 || (filter.withinGroups !== undefined && filter.withinGroups.length === 0))
    return { items: [], next: null };
  const conditions: SQL[] = [inArray(tokens.kind, filter.kinds)];
  if (filter.orgId !== undefined) conditions.push(eq(tokens.orgId, filter.orgId));
  if (filter.userId !== undefined) conditions.push(eq(tokens.userId, filter.userId));
  if (filter.withinGroups !== undefined) conditions.push(inArray(tokens.groupId, filter.withinGroups));
  if (filter.groupId !== undefined) conditions.push(eq(tokens.groupId, filter.groupId));
  if (filter.statuses && filter.statuses.length > 0)
    conditions.push(or(...filter.statuses.map((s) => statusCondition(s, now)))!);
  if (filter.q) {
    const q = filter.q.toLowerCase();
    conditions.push(
      or(
        sql`instr(lower(${tokens.name}), ${q}) > 0`,
        sql`instr(lower(${tokens.description}), ${q}) > 0`,
        sql`instr(lower(${tokens.hint}), ${q}) > 0`,
        eq(tokens.id, filter.q),
      )!,
    );
  }
  const rows = await db
    .select()
    .from(tokens)
    .where(and(...conditions, pastCursor(page.cursor, "desc", [tokens.createdAt, "number"], [tokens.id, "string"])))
    .orderBy(desc(tokens.createdAt), desc(tokens.id))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.createdAt, last.id]);
  return { items: await tokenViews(db, kept.rows, now), next: kept.next };
}
