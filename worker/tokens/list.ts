import {
  and,
  asc,
  count,
  desc,
  eq,
  gt,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import type { Db } from "../db/client";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { type TokenKind, tokens } from "../db/schema";
import { EXPIRING_WINDOW_MS } from "../limits";
import { TOKEN_STATUSES, type TokenStatus } from "./status";
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

/** Columns a token list sorts by; "created" (newest first) unless asked. */
export const TOKEN_SORTS = ["created", "name", "status", "lastUsed", "expires"] as const;
export type TokenSort = (typeof TOKEN_SORTS)[number];

/**
 * The status as a number in TOKEN_STATUSES order (active first, revoked last), evaluated by D1 with
 * `tokenStatus`'s precedence: what "sort by status" orders by and what the counts group by.
 */
function statusRank(now: number): SQL<number> {
  const rank = (s: TokenStatus) => TOKEN_STATUSES.indexOf(s);
  return sql<number>`CASE
    WHEN ${tokens.revokedAt} IS NOT NULL THEN ${rank("revoked")}
    WHEN ${tokens.expiresAt} IS NOT NULL AND ${tokens.expiresAt} <= ${now} THEN ${rank("expired")}
    WHEN ${tokens.disabledAt} IS NOT NULL THEN ${rank("disabled")}
    WHEN ${tokens.expiresAt} IS NOT NULL AND ${tokens.expiresAt} < ${now + EXPIRING_WINDOW_MS} THEN ${rank("expiring")}
    ELSE ${rank("active")} END`;
}

/** Never used sorts as the oldest use; never expiring as the farthest expiry. */
const NEVER_EXPIRES = Number.MAX_SAFE_INTEGER;

/** The sort key of each column, as SQL (NULLs folded in, so a cursor can compare it) and its type. */
function sortKey(by: TokenSort, now: number): [SQL | typeof tokens.createdAt, "string" | "number"] {
  switch (by) {
    case "created":
      return [tokens.createdAt, "number"];
    case "name":
      return [sql`lower(${tokens.name})`, "string"];
    case "status":
      return [statusRank(now), "number"];
    case "lastUsed":
      return [sql`coalesce(${tokens.lastUsedAt}, 0)`, "number"];
    case "expires":
      return [sql`coalesce(${tokens.expiresAt}, ${NEVER_EXPIRES})`, "number"];
  }
}

/** The filter as SQL conditions; null when it can match nothing. */
export function filterConditions(filter: TokenListFilter, now: number): SQL[] | null {
  if (filter.kinds.length === 0 || (filter.withinGroups !== undefined && filter.withinGroups.length === 0)) return null;
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
  return conditions;
}

/**
 * Filtered in SQL (status included, from the fields and `now`), sorted by one column (ties by id, the
 * same way), cursor-paged: the cursor holds the last row's sort key and id. Newest first by default.
 */
export async function listTokens(
  db: Db,
  filter: TokenListFilter,
  page: { cursor?: string; limit: number; sort?: TokenSort; order?: "asc" | "desc" },
  now: number,
): Promise<Page<TokenView>> {
  const conditions = filterConditions(filter, now);
  if (!conditions) return { items: [], next: null };
  const order = page.order ?? "desc";
  const [key, type] = sortKey(page.sort ?? "created", now);
  const direction = order === "asc" ? asc : desc;
  const rows = await db
    .select({ token: tokens, key: sql<string | number>`${key}` })
    .from(tokens)
    .where(and(...conditions, pastCursor(page.cursor, order, [key, type], [tokens.id, "string"])))
    .orderBy(direction(key), direction(tokens.id))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.key, last.token.id]);
  return {
    items: await tokenViews(
      db,
      kept.rows.map((r) => r.token),
      now,
    ),
    next: kept.next,
  };
}

/** How many tokens the filter (without its statuses) finds in each status: the list's filter shows them. */
export async function countTokensByStatus(
  db: Db,
  filter: Omit<TokenListFilter, "statuses">,
  now: number,
): Promise<Record<TokenStatus, number>> {
  const counts = Object.fromEntries(TOKEN_STATUSES.map((s) => [s, 0])) as Record<TokenStatus, number>;
  const conditions = filterConditions(filter, now);
  if (!conditions) return counts;
  const rank = statusRank(now);
  const rows = await db
    .select({ rank, n: count() })
    .from(tokens)
    .where(and(...conditions))
    .groupBy(rank);
  for (const row of rows) {
    const status = TOKEN_STATUSES[Number(row.rank)];
    if (status) counts[status] = row.n;
  }
  return counts;
}
