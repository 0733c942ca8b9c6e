import { and, desc, eq, isNotNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditEvents } from "../db/schema";
import { decodeCursor, type Page, splitPage } from "./paging";

export interface AuditView {
  id: number;
  at: string;
  actor: { type: "user" | "token" | "system"; id: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  /** One organization's events, or (null) the whole instance's. */
  orgId: string | null;
  /** Only events about this target id (a token, a member...). */
  target?: string;
  /** An exact action ("token.revoked") or a family ending in a dot ("token."). */
  action?: string;
}

/** Newest first; the cursor is the id of the last event seen (ids only grow). */
export async function listAudit(db: Db, filter: AuditFilter, page: { cursor?: string; limit: number }): Promise<Page<AuditView>> {
  const conditions = [];
  if (filter.orgId !== null) conditions.push(eq(auditEvents.orgId, filter.orgId));
  if (filter.target) conditions.push(or(eq(auditEvents.targetId, filter.target), and(isNotNull(auditEvents.actorId), eq(auditEvents.actorId, filter.target)))!);
  if (filter.action) {
    conditions.push(
      filter.action.endsWith(".") ? sql`substr(${auditEvents.action}, 1, ${filter.action.length}) = ${filter.action}` : eq(auditEvents.action, filter.action),
    );
  }
  if (page.cursor) conditions.push(lt(auditEvents.id, decodeCursor<[number]>(page.cursor, ["number"])[0]));
  const rows = await db.select().from(auditEvents).where(and(...conditions)).orderBy(desc(auditEvents.id)).limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.id]);
  return {
    items: kept.rows.map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      actor: { type: r.actorType, id: r.actorId },
      action: r.action,
      target: r.targetType ? { type: r.targetType, id: r.targetId } : null,
      ip: r.ip,
      detail: r.detail ?? {},
    })),
    next: kept.next,
  };
}
