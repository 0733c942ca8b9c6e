// How an audit event reads on screen, shared by the audit log and a token's History tab: the
// action's words, who and what with "(deleted)" for what is gone, and an edit's before → after.
import { actionLabel } from "../../worker/audit/action-labels";
import type { AuditEvent } from "./client";
import { absolute } from "./format";
import { Time } from "./ui";

const short = (id: string | null) => (id ? `${id.slice(0, 8)}…` : "");

/** One value of a detail: dates for `…At` instants, lists joined, nothing as "none". */
function valueText(key: string, v: unknown): string {
  if (v === null || v === undefined || v === "") return "none";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
  if (typeof v === "number" && key.endsWith("At")) return absolute(new Date(v).toISOString());
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

type Change = { from: unknown; to: unknown };

/** "name: a → b" for each changed field of an edit. */
export function changeLines(detail: Record<string, unknown>): string[] {
  const changes = (detail.changes ?? {}) as Record<string, Change>;
  return Object.entries(changes).map(([k, c]) => `${k}: ${valueText(k, c.from)} → ${valueText(k, c.to)}`);
}

/** The rest of the detail, "key: value" joined; what the changes already say is left out. */
export function detailText(detail: Record<string, unknown>): string {
  const changed = new Set(Object.keys((detail.changes ?? {}) as object));
  return Object.entries(detail)
    .filter(([k]) => k !== "changes" && !changed.has(k))
    .map(([k, v]) => `${k}: ${valueText(k, v)}`)
    .join(" · ");
}

type Party = { type: string; id: string | null; label: string | null; deleted: boolean };

/** The API's label (an email, a token's name, a slug...), or the short id of what no longer has one. */
const named = (x: Party) => x.label ?? `${x.type.replace("_", " ")} ${short(x.id)}`;

/** Where a live target has a page of its own; what is gone gets none (plain text, "(deleted)"). */
function targetHref(e: AuditEvent): string | null {
  const t = e.target;
  const org = e.org?.slug;
  if (!t?.id || t.deleted || !org) return null;
  if (t.type === "token") return `/orgs/${org}/tokens/${t.id}`;
  if (t.type === "group" && t.label) return `/orgs/${org}/groups/${t.label}`;
  return null;
}

export function PartyText(props: { party: Party; href?: string | null; title?: string }) {
  const text = named(props.party);
  if (props.party.deleted) return <span>{text} (deleted)</span>;
  return props.href ? (
    <a href={props.href} title={props.title}>
      {text}
    </a>
  ) : (
    <span>{text}</span>
  );
}

/**
 * The events as a table. `actorHref` makes each actor a link (the audit log filters by it);
 * `target: false` leaves the target column out (a token's history is all about the one token).
 */
export function AuditTable(props: {
  items: AuditEvent[];
  actorHref?: (e: AuditEvent) => string | null;
  target?: boolean;
  caption: string;
}) {
  const withTarget = props.target !== false;
  return (
    <table class="audit">
      <caption class="sr">{props.caption}</caption>
      <thead>
        <tr>
          <th>When</th>
          <th>Who</th>
          <th>What</th>
          {withTarget && <th>Target</th>}
          <th>Details</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((e) => (
          <tr key={e.id}>
            <td>
              <Time iso={e.at} />
            </td>
            <td>
              <PartyText
                party={e.actor}
                href={props.actorHref?.(e)}
                title={`Only events by ${e.actor.label ?? "this actor"}`}
              />
              {e.ip && <div class="muted small">{e.ip}</div>}
            </td>
            <td>
              <span title={e.action}>{actionLabel(e.action)}</span>
            </td>
            {withTarget && (
              <td>
                {e.target && (
                  <>
                    <span class="muted">{e.target.type.replace("_", " ")}</span>{" "}
                    <PartyText party={e.target} href={targetHref(e)} />
                  </>
                )}
              </td>
            )}
            <td class="small">
              {changeLines(e.detail).map((line) => (
                <div class="change">{line}</div>
              ))}
              {detailText(e.detail)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
