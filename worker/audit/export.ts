import type { Db } from "../db/client";
import { encodeCursor } from "../db/paging";
import { AUDIT_EXPORT_MAX_ROWS, AUDIT_EXPORT_PAGE_ROWS } from "../limits";
import { type AuditFilter, type AuditView, auditCutoff, listAudit } from "../orgs/audit";
import { actionLabel } from "./action-labels";

export type ExportFormat = "csv" | "json";

const CSV_COLUMNS = [
  "id",
  "at",
  "actor_type",
  "actor_id",
  "actor",
  "action",
  "action_label",
  "target_type",
  "target_id",
  "target",
  "target_deleted",
  "ip",
  "detail",
] as const;

/**
 * One CSV cell (RFC 4180). A cell a spreadsheet would run as a formula (starting with = + - @, or a
 * tab or carriage return that some strip first) gets a leading apostrophe: names and emails in the log
 * are chosen by others (OWASP, "CSV Injection").
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(e: AuditView): string {
  const cells = [
    e.id,
    e.at,
    e.actor.type,
    e.actor.id,
    e.actor.label,
    e.action,
    actionLabel(e.action),
    e.target?.type,
    e.target?.id,
    e.target?.label,
    e.target ? String(e.target.deleted) : "",
    e.ip,
    e.detail,
  ];
  return `${cells.map((c) => csvCell(typeof c === "number" ? String(c) : c)).join(",")}\r\n`;
}

export interface AuditExport {
  /** Where the rest starts, as a list cursor, when the filter selects more than one export holds. */
  next: string | null;
  body: ReadableStream<Uint8Array>;
}

/**
 * The filtered log, newest first, as CSV or as JSON `{"items":[…],"next":…}`, streamed a page at a
 * time. At most AUDIT_EXPORT_MAX_ROWS events: the cut is decided before the first byte, so the answer
 * can say where the rest starts.
 */
export async function exportAudit(
  db: Db,
  filter: AuditFilter,
  format: ExportFormat,
  cursor: string | undefined,
): Promise<AuditExport> {
  const past = await auditCutoff(db, filter, cursor, AUDIT_EXPORT_MAX_ROWS);
  // A list cursor lists below the id it holds: one above the cut starts at the cut.
  const next = past === null ? null : encodeCursor([past + 1]);
  const bounded = { ...filter, ...(past === null ? {} : { above: past }) };
  const encoder = new TextEncoder();
  let page: string | undefined = cursor;
  let started = false;
  let done = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(format === "csv" ? `${CSV_COLUMNS.join(",")}\r\n` : '{"items":['));
      }
      const rows = await listAudit(db, bounded, { cursor: page, limit: AUDIT_EXPORT_PAGE_ROWS });
      const text =
        format === "csv"
          ? rows.items.map(csvRow).join("")
          : rows.items.map((e, i) => (page === cursor && i === 0 ? "" : ",") + JSON.stringify(e)).join("");
      if (text) controller.enqueue(encoder.encode(text));
      page = rows.next ?? undefined;
      if (!rows.next) {
        done = true;
        if (format === "json") controller.enqueue(encoder.encode(`],"next":${JSON.stringify(next)}}`));
        controller.close();
      }
    },
  });
  return { next, body };
}
