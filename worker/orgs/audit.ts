import { and, desc, eq, gt, gte, isNotNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Page, pastCursor, splitPage } from "../db/paging";
import { auditEvents } from "../db/schema";
import { type LabelBook, type LabelKind, LabelRequest, SYSTEM_LABEL } from "./labels";

export interface AuditView {
  id: number;
  at: string;
  /** The organization the event belongs to (its slug while it exists); null for instance events. */
  org: { id: string; slug: string | null } | null;
  /**
   * `label`: the person's email, the token's "name (hint)", or "Tessera" for the system.
   * `deleted`: the person or token is gone (erased, deleted), so nothing links to it.
   */
  actor: { type: "user" | "token" | "system"; id: string | null; label: string | null; deleted: boolean };
  action: string;
  /**
   * `label`: what the target is called now, or as the event recorded it when it is gone; null if neither.
   * `deleted`: a target that can be looked up no longer exists (in this organization).
   */
  target: { type: string; id: string | null; label: string | null; deleted: boolean } | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  /** One organization's events, or (null) the whole instance's. */
  orgId: string | null;
  /** Only events about this target id (a token, a member...) or by it (an admin token, a person). */
  target?: string;
  /** Only events whose target is this id (a token's history): not what it did itself. */
  about?: string;
  /** Only events by this actor id, or by Tessera itself (`"system"`). */
  actor?: string;
  /** An exact action ("token.revoked") or a family ending in a dot ("token."). */
  action?: string;
  /** Events at or after this instant (epoch ms). */
  from?: number;
  /** Events before this instant (epoch ms). */
  to?: number;
  /** Events with a larger id only: where an export capped at a number of rows stops. */
  above?: number;
}

/** The SQL conditions of a filter; every list and export of the log goes through them. */
function conditionsOf(filter: AuditFilter): (SQL | undefined)[] {
  const conditions: (SQL | undefined)[] = [];
  if (filter.orgId !== null) conditions.push(eq(auditEvents.orgId, filter.orgId));
  if (filter.target)
    conditions.push(
      or(
        eq(auditEvents.targetId, filter.target),
        and(isNotNull(auditEvents.actorId), eq(auditEvents.actorId, filter.target)),
      ),
    );
  if (filter.about) conditions.push(eq(auditEvents.targetId, filter.about));
  if (filter.actor === "system") conditions.push(eq(auditEvents.actorType, "system"));
  else if (filter.actor) conditions.push(eq(auditEvents.actorId, filter.actor));
  if (filter.action) {
    conditions.push(
      filter.action.endsWith(".")
        ? sql`substr(${auditEvents.action}, 1, ${filter.action.length}) = ${filter.action}`
        : eq(auditEvents.action, filter.action),
    );
  }
  if (filter.from !== undefined) conditions.push(gte(auditEvents.at, filter.from));
  if (filter.to !== undefined) conditions.push(lt(auditEvents.at, filter.to));
  if (filter.above !== undefined) conditions.push(gt(auditEvents.id, filter.above));
  return conditions;
}

/** Newest first; the cursor is the id of the last event seen (ids only grow). */
export async function listAudit(
  db: Db,
  filter: AuditFilter,
  page: { cursor?: string; limit: number },
): Promise<Page<AuditView>> {
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditionsOf(filter), pastCursor(page.cursor, "desc", [auditEvents.id, "number"])))
    .orderBy(desc(auditEvents.id))
    .limit(page.limit + 1);
  const kept = splitPage(rows, page.limit, (last) => [last.id]);
  const labels = await labelsFor(db, kept.rows);
  return {
    items: kept.rows.map((r) => {
      const detail = r.detail ?? {};
      const actor = actorLabel(r, detail, labels);
      return {
        id: r.id,
        at: new Date(r.at).toISOString(),
        org: r.orgId === null ? null : { id: r.orgId, slug: labels("org", r.orgId, r.orgId)?.label ?? null },
        actor: { type: r.actorType, id: r.actorId, ...actor },
        action: r.action,
        target: r.targetType ? { type: r.targetType, id: r.targetId, ...targetLabel(r, detail, labels) } : null,
        ip: r.ip,
        detail,
      };
    }),
    next: kept.next,
  };
}

/**
 * The id of the event just past the first `rows` the filter selects after `cursor`, newest first, or null when
 * there are no more: an export of `rows` events stops above it, and the rest start from there.
 */
export async function auditCutoff(
  db: Db,
  filter: AuditFilter,
  cursor: string | undefined,
  rows: number,
): Promise<number | null> {
  const [past] = await db
    .select({ id: auditEvents.id })
    .from(auditEvents)
    .where(and(...conditionsOf(filter), pastCursor(cursor, "desc", [auditEvents.id, "number"])))
    .orderBy(desc(auditEvents.id))
    .limit(1)
    .offset(rows);
  return past?.id ?? null;
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
  upstream: "upstream",
  permission: "permission",
};
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
    request.add("org", r.orgId);
    if (r.actorType === "user" || r.actorType === "token") request.add(r.actorType, r.actorId);
    const kind = r.targetType ? LOOKED_UP[r.targetType] : undefined;
    if (kind) request.add(kind, r.targetId);
    // A removed membership is gone; the person it was is still named by the event.
    if (r.targetType === "member") request.add("user", text(r.detail?.userId));
  }
  return request.load(db);
}

type Named = { label: string | null; deleted: boolean };

function actorLabel(r: AuditRow, detail: Detail, labels: LabelBook): Named {
  if (r.actorType === "system") return { label: SYSTEM_LABEL, deleted: false };
  if (r.actorType === "user") {
    const user = labels("user", r.actorId, r.orgId);
    return { label: user?.label ?? null, deleted: !user && r.actorId !== null };
  }
  const token = labels("token", r.actorId, r.orgId);
  if (token) return { label: `${token.label} (${token.hint})`, deleted: false };
  // An erased token acting on itself (revoking itself, say) is still named by its event.
  const own = r.targetType === "token" && r.targetId === r.actorId ? text(detail.name) : null;
  return { label: own, deleted: true };
}

function targetLabel(r: AuditRow, detail: Detail, labels: LabelBook): Named {
  const type = r.targetType!;
  const kind = LOOKED_UP[type];
  const found = kind ? labels(kind, r.targetId, r.orgId) : null;
  if (found) return { label: found.label, deleted: false };
  // Only what can be looked up can be known gone; an invitation or a webhook delivery is not "deleted".
  const deleted = kind !== undefined && r.targetId !== null;
  if (type === "upstream" || type === "permission") return { label: r.targetId, deleted };
  const recorded = RECORDED_NAME[type];
  if (recorded && text(detail[recorded])) return { label: text(detail[recorded]), deleted };
  const person = type === "member" ? (labels("user", text(detail.userId), r.orgId)?.label ?? null) : null;
  return { label: person, deleted };
}
