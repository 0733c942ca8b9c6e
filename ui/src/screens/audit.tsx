// The audit log, an organization's or (for the owner) the whole instance's: newest first, a page at a
// time, filtered by actor, action, target and dates. The filters live in the address, so a reload, Back
// or a shared link shows the same list; the export downloads exactly the filtered list.
import { useState } from "preact/hooks";
import { ACTION_LABELS } from "../../../worker/audit/action-labels";
import { AuditTable } from "../audit-view";
import { type AuditEvent, type AuditQuery, type AuditSource, api } from "../client";
import { go, route } from "../router";
import { useStore } from "../store";
import { Empty, Err, Field, Loading, LoadMore, Page, usePaged } from "../ui";

/** The address's filters: dates as the date inputs give them (YYYY-MM-DD, the person's own days). */
const FILTERS = ["action", "actor", "target", "from", "to"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

/** Local midnight starting `day`, `days` later, as the API's ISO instant; undefined for no date. */
function dayIso(day: string, days = 0): string | undefined {
  const [y, m, d] = day.split("-").map(Number);
  return y && m && d ? new Date(y, m - 1, d + days).toISOString() : undefined;
}

/** The API's query for the address's filters: "to" a day means up to the end of that day. */
const apiQuery = (f: Filters): AuditQuery => ({
  action: f.action || undefined,
  actor: f.actor.trim() || undefined,
  target: f.target.trim() || undefined,
  from: dayIso(f.from),
  to: dayIso(f.to, 1),
});

const families = () => {
  const byFamily = new Map<string, [string, string][]>();
  for (const [action, label] of Object.entries(ACTION_LABELS)) {
    const family = action.slice(0, action.indexOf(".") + 1);
    byFamily.set(family, [...(byFamily.get(family) ?? []), [action, label]]);
  }
  return [...byFamily];
};

export function Audit(props: { org?: string }) {
  const loc = useStore(route);
  const source: AuditSource = props.org ? { org: props.org } : "instance";
  const filters = Object.fromEntries(FILTERS.map((k) => [k, loc.query.get(k) ?? ""])) as Filters;
  const key = FILTERS.map((k) => filters[k]).join("\n");
  const query = apiQuery(filters);
  const list = usePaged((cursor) => api.audit(source, query, cursor), [props.org, key]);
  const filtered = FILTERS.some((k) => filters[k]);
  const here = (f: Partial<Filters>) => {
    const q = new URLSearchParams(Object.entries({ ...filters, ...f }).filter(([, v]) => v) as [string, string][]);
    const s = q.toString();
    return loc.path + (s ? `?${s}` : "");
  };
  const actorHref = (e: AuditEvent) =>
    e.actor.type === "system" ? here({ actor: "system" }) : e.actor.id ? here({ actor: e.actor.id }) : null;
  return (
    <Page
      title={props.org ? "Audit log" : "Instance audit log"}
      sub={
        props.org
          ? "Every change to tokens, members and settings, newest first."
          : "Everything in every organization, with sign-ins, failed sign-ins and catalog changes, newest first."
      }
    >
      <AuditFilters key={key} filters={filters} apply={(f) => go(here({ ...f }))} clear={() => go(loc.path)} />
      <p class="muted small">
        Export the list as shown:{" "}
        <a href={api.auditExportUrl(source, query, "csv")} download>
          CSV
        </a>{" "}
        ·{" "}
        <a href={api.auditExportUrl(source, query, "json")} download>
          JSON
        </a>{" "}
        (the newest 10,000 events; narrow the dates for older ones).
      </p>
      {list.error ? (
        <Err text={list.error} />
      ) : !list.data ? (
        <Loading />
      ) : list.items.length === 0 ? (
        <Empty title={filtered ? "No events match these filters." : "Nothing has happened yet."}>
          <p>
            {filtered ? (
              <a href={loc.path}>Show every event</a>
            ) : (
              "Creating a token or adding a member writes the first event."
            )}
          </p>
        </Empty>
      ) : (
        <AuditTable items={list.items} actorHref={actorHref} caption="Audit events" />
      )}
      <LoadMore list={list} />
    </Page>
  );
}

function AuditFilters(props: { filters: Filters; apply: (f: Filters) => void; clear: () => void }) {
  const [f, setF] = useState(props.filters);
  const set = (k: keyof Filters) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <form
      class="filters"
      aria-label="Filter events"
      onSubmit={(e) => {
        e.preventDefault();
        props.apply(f);
      }}
    >
      <Field label="Action">
        <select value={f.action} onChange={set("action")}>
          <option value="">Any action</option>
          {families().map(([family, actions]) => (
            <optgroup label={family.slice(0, -1).replace("_", " ")}>
              <option value={family}>Any {family.slice(0, -1).replace("_", " ")} action</option>
              {actions.map(([action, label]) => (
                <option value={action}>{label}</option>
              ))}
            </optgroup>
          ))}
          {f.action && !f.action.endsWith(".") && !Object.hasOwn(ACTION_LABELS, f.action) && (
            <option value={f.action}>{f.action}</option>
          )}
        </select>
      </Field>
      <Field label="By" hint="An email, an id, or “system”">
        <input value={f.actor} onInput={set("actor")} autocomplete="off" />
      </Field>
      <Field label="About" hint="A token's, member's or other id">
        <input value={f.target} onInput={set("target")} autocomplete="off" />
      </Field>
      <Field label="From">
        <input type="date" value={f.from} onInput={set("from")} />
      </Field>
      <Field label="To">
        <input type="date" value={f.to} onInput={set("to")} min={f.from || undefined} />
      </Field>
      <div class="row">
        <button type="submit" class="primary">
          Apply
        </button>
        <button type="button" onClick={props.clear}>
          Clear
        </button>
      </div>
    </form>
  );
}
