import { and, desc, eq, isNotNull, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { auditEvents } from "../db/schema";
import { type LabelBook, type LabelKind, LabelRequest, SYSTEM_LABEL } from "./labels";

export interface AuditView {
  id: number;
  at: string;
  /** `label`: the person's email, the token's "name (hint)", or "Tessera" for the system. */
  actor: { type: "user" | "token" | "system"; id: string | null; label: string | null };
  action: string;
  /** `label`: what the target is called now, or as the event recorded it when it is gone; null if neither. */
  target: { type: string; id: string | null; label: string | null } | null;
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
export async function listAudit(
  db: Db,
  filter: AuditFilter,
  page: { cursor?: string; limit: number },
): Promise<Page<AuditView>> {
  const conditions = [];
  if (filter.orgId !== null) conditions.push(eq(auditEvents.orgId, filter.orgId));
  if (filter.target)
    conditions.push(
      or(
        eq(auditEvents.targetId, filter.target),
        and(isNotNull(auditEvents.actorId), eq(auditEvents.actorId, filter.target)),
      )!,
    );
  if (filter.action) {
    conditions.push(
      filter.action.endsWith(".")
        ? sql`substr(${auditEvents.action}, 1, ${filter.action.length}) = ${filter.action}`
        : eq(auditEvents.action, filter.action),
    );
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditions, pastCursor(page.cursor, "desc", [auditEvents.id, "number"])))
    .orderBy(desc(auditEvents.id))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.id]);
  const labels = await labelsFor(db, kept.rows);
  return {
    items: kept.rows.map((r) => {
      const detail = r.detail ?? {};
      return {
        id: r.id,
        at: new Date(r.at).toISOString(),
        actor: { type: r.actorType, id: r.actorId, label: actorLabel(r, detail, labels) },
        action: r.action,
        target: r.targetType ? { type: r.targetType, id: r.targetId, label: targetLabel(r, detail, labels) } : null,
        ip: r.ip,
        detail,
      };
    }),
    next: kept.next,
  };
}

type AuditRow = typeof auditEvents.$inferSelect;
type Detail = Record<string, unknown>;

/** Target types whose records have their own label lookup. */
const LOOKED_UP: Record<string, LabelKind> = {
  token: "token",
  group: "group",
  project: "project",
  member: "member",
  user: "user",
  org: "org",
  permission_set: "permission_set",
};
/** Target types whose id is already their name. */
const NAMED_BY_ID = new Set(["upstream", "permission"]);
/** What an event's detail called the target when it was written, for targets since erased. */
const RECORDED_NAME: Record<string, string> = {
  token: "name",
  group: "slug",
  project: "key",
  member: "email",
  user: "email",
  invitation: "email",
  org: "slug",
  permission_set: "name",
};

const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);

/** Every id the page names, looked up in one batch. */
function labelsFor(db: Db, rows: AuditRow[]): Promise<LabelBook> {
  const request = new LabelRequest();
  for (const r of rows) {
    if (r.actorType === "user" || r.actorType === "token") request.add(r.actorType, r.actorId);
    const kind = r.targetType ? LOOKED_UP[r.targetType] : undefined;
    if (kind) request.add(kind, r.targetId);
    // A removed membership is gone; the person it was is still named by the event.
    if (r.targetType === "member") request.add("user", text(r.detail?.userId));
  }
  return request.load(db);
}

function actorLabel(r: AuditRow, detail: Detail, labels: LabelBook): string | null {
  if (r.actorType === "system") return SYSTEM_LABEL;
  if (r.actorType === "user") return labels("user", r.actorId, r.orgId)?.label ?? null;
  const token = labels("token", r.actorId, r.orgId);
  if (token) return `${token.label} (${token.hint})`;
  // An erased token acting on itself (revoking itself, say) is still named by its event.
  return r.targetType === "token" && r.targetId === r.actorId ? text(detail.name) : null;
}

function targetLabel(r: AuditRow, detail: Detail, labels: LabelBook): string | null {
  const type = r.targetType!;
  if (NAMED_BY_ID.has(type)) return r.targetId;
  const kind = LOOKED_UP[type];
  const found = kind ? labels(kind, r.targetId, r.orgId) : null;
  if (found) return found.label;
  const recorded = RECORDED_NAME[type];
  if (recorded && text(detail[recorded])) return text(detail[recorded]);
  return type === "member" ? (labels("user", text(detail.userId), r.orgId)?.label ?? null) : null;
}
