// Token lists: an organization's, a group's, and "My tokens". Filters live in the address.
import { useEffect, useState } from "preact/hooks";
import { api, type Scope, type Token } from "../client";
import { permissionsSummary, projectsSummary, STATUS_LABEL, type Status } from "../format";
import { UnusedBadge } from "../purge";
import { route, setQuery } from "../router";
import { adminGroups, canManage, session } from "../session";
import { useStore } from "../store";
import { Badge, confirmAction, Empty, Err, Loading, LoadMore, Page, Time, toast, useLoad, usePaged } from "../ui";
import { toggled } from "./checklist";
import { showSecret } from "./secret";
import { createToken } from "./token-dialogs";

export const tokenHref = (scope: Scope, id: string) =>
  scope === "me" ? `/me/tokens/${id}` : `/orgs/${scope.org}/tokens/${id}`;

export function kindLabel(t: Token): string {
  if (t.kind === "personal") return `Personal · ${t.org.slug}`;
  return t.group ? `Group ${t.group.name}` : "Organization";
}

type Sort = "name" | "status" | "lastUsed" | "expires" | "created";
const SORTS: [Sort, string][] = [
  ["name", "Name"],
  ["status", "Status"],
  ["lastUsed", "Last used"],
  ["expires", "Expires"],
  ["created", "Created"],
];
const isSort = (s: string | null): s is Sort => SORTS.some(([k]) => k === s);

/** The Expires cell: a dead token shows when it died, not when it would have expired. */
function Ending(props: { t: Token }) {
  const { t } = props;
  if (t.revokedAt)
    return (
      <span>
        Revoked <Time iso={t.revokedAt} />
      </span>
    );
  if (t.status === "expired")
    return (
      <span>
        Expired <Time iso={t.expiresAt} />
      </span>
    );
  return (
    <>
      <Time iso={t.expiresAt} />
      {t.expiryCut && <div class="muted small">Cut by policy</div>}
    </>
  );
}

export function TokenList(props: { scope: Scope; group?: string }) {
  const { scope, group } = props;
  const me = useStore(session)!;
  const { query } = useStore(route);
  const status = query.get("status") ?? "";
  const q = query.get("q") ?? "";
  const sortParam = query.get("sort");
  const sort: Sort = isSort(sortParam) ? sortParam : "created";
  const order = query.get("order") === "asc" ? "asc" : "desc";
  const [search, setSearch] = useState(q);
  const [selected, setSelected] = useState(new Set<string>());
  const key = JSON.stringify([scope, group, status, q, sort, order]);
  // Sorted by the API (the list is paged): the address keeps the column and direction.
  const list = usePaged((cursor) => api.tokens(scope, { status, q, group, cursor, sort, order }), [key]);
  const counts = useLoad(() => api.tokenCounts(scope, { q, group }), [JSON.stringify([scope, group, q]), list.data]);
  const params = { status, q, sort: sort === "created" ? "" : sort, order: order === "desc" ? "" : order };
  const sortBy = (column: Sort) =>
    setQuery({
      ...params,
      sort: column === "created" ? "" : column,
      // A new column starts in its natural order (names A to Z, newest first); the same column flips.
      order: column === sort ? (order === "asc" ? "" : "asc") : column === "name" || column === "status" ? "asc" : "",
    });
  useEffect(() => setSelected(new Set()), [key]);
  // Back and forward change the address: the search box follows it.
  useEffect(() => setSearch(q), [q]);
  // Search as one types, without a request per key stroke.
  useEffect(() => {
    const t = setTimeout(() => search !== q && setQuery({ ...params, q: search }), 300);
    return () => clearTimeout(t);
  }, [search]);

  const items = list.items;
  const manageable = items.filter((t) => t.status !== "revoked" && canManage(me, t));
  const chosen = items.filter((t) => selected.has(t.id));
  const creates = scope === "me" || adminGroups(me, scope.org)?.length !== 0;
  const refresh = () => {
    setSelected(new Set());
    list.reload();
  };

  const create = async () => {
    const made = await createToken(scope, me, group);
    if (!made) return;
    // The list behind the secret already shows the new token.
    refresh();
    await showSecret(made);
  };
  const revoke = () =>
    confirmAction({
      title: `Revoke ${selected.size === 1 ? "1 token" : `${selected.size} tokens`}?`,
      body: "Requests with them fail at once here and everywhere within a minute. This cannot be undone.",
      action: "Revoke",
      danger: true,
      run: () => api.revokeMany(scope, [...selected]),
    }).then((done) => {
      if (!done) return;
      toast(selected.size === 1 ? "1 token revoked." : `${selected.size} tokens revoked.`);
      refresh();
    });
  const setEnabled = (change: "disable" | "enable") => {
    const n = selected.size === 1 ? "1 token" : `${selected.size} tokens`;
    return confirmAction({
      title: `${change === "disable" ? "Disable" : "Enable"} ${n}?`,
      body:
        change === "disable"
          ? "Requests with them fail until you enable them again."
          : "Requests with them will be accepted again (expired ones stay expired).",
      action: change === "disable" ? "Disable" : "Enable",
      run: async () => {
        const r = await api.setManyEnabled(scope, [...selected], change);
        const done = r.changed.length === 1 ? "1 token" : `${r.changed.length} tokens`;
        const left = r.skipped.length + r.notFound.length;
        toast(`${done} ${change}d.${left ? ` ${left} could not be changed.` : ""}`);
      },
    }).then((done) => done && refresh());
  };
  const filtered = status !== "" || q !== "";

  return (
    <Page
      title={scope === "me" ? "My tokens" : group ? `Group ${group}: tokens` : "Tokens"}
      sub={
        scope === "me"
          ? "Personal tokens (tsp_) act with your own rights."
          : "Organization (tso_) and group (tsg_) tokens belong to the organization, not to a person."
      }
      actions={
        creates && (
          <button type="button" class="primary" onClick={create}>
            New token
          </button>
        )
      }
    >
      <div class="toolbar">
        <input
          type="search"
          aria-label="Search tokens"
          placeholder="Search by name or description"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <select
          aria-label="Status"
          value={status}
          onChange={(e) => setQuery({ ...params, status: e.currentTarget.value })}
        >
          <option value="">All statuses</option>
          {Object.entries(STATUS_LABEL).map(([k, l]) => (
            <option value={k}>
              {l}
              {counts.data ? ` (${counts.data[k as Status]})` : ""}
            </option>
          ))}
        </select>
        <button type="button" onClick={refresh} disabled={list.loading}>
          Refresh
        </button>
        {selected.size > 0 && (
          <span class="bulk">
            <span role="status">{selected.size} selected</span>
            {chosen.some((t) => t.status !== "disabled") && (
              <button type="button" onClick={() => setEnabled("disable")}>
                Disable
              </button>
            )}
            {chosen.some((t) => t.status === "disabled") && (
              <button type="button" onClick={() => setEnabled("enable")}>
                Enable
              </button>
            )}
            <button type="button" class="danger" onClick={revoke}>
              Revoke
            </button>
          </span>
        )}
      </div>
      {list.error ? (
        <Err text={list.error} />
      ) : list.loading && !list.data ? (
        <Loading />
      ) : items.length === 0 ? (
        filtered ? (
          <Empty title="No token matches these filters.">
            <button
              type="button"
              onClick={() => {
                setSearch("");
                setQuery({});
              }}
            >
              Clear the filters
            </button>
          </Empty>
        ) : (
          <Empty title="No tokens yet.">
            <p>
              {creates
                ? "Create one to let a pipeline, a service or a script call your APIs."
                : "Ask an admin of this organization to create one."}
            </p>
          </Empty>
        )
      ) : (
        <table class="tokens">
          <thead>
            <tr>
              <th class="sel">
                {manageable.length > 0 && (
                  <input
                    type="checkbox"
                    aria-label="Select all"
                    checked={selected.size === manageable.length}
                    onChange={() =>
                      setSelected(new Set(selected.size === manageable.length ? [] : manageable.map((t) => t.id)))
                    }
                  />
                )}
              </th>
              {SORTS.slice(0, 2).map(([k, l]) => (
                <SortHeader column={k} label={l} sort={sort} order={order} onSort={sortBy} />
              ))}
              <th class="wide">Projects</th>
              <th class="wide">Permissions</th>
              {SORTS.slice(2).map(([k, l]) => (
                <SortHeader column={k} label={l} sort={sort} order={order} onSort={sortBy} />
              ))}
            </tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <tr key={t.id} class={selected.has(t.id) ? "on" : undefined}>
                <td class="sel">
                  {manageable.includes(t) && (
                    <input
                      type="checkbox"
                      aria-label={`Select ${t.name}`}
                      checked={selected.has(t.id)}
                      onChange={() => setSelected(toggled(selected, t.id))}
                    />
                  )}
                </td>
                <td class="name">
                  <a href={tokenHref(scope, t.id)}>{t.name}</a>
                  <div class="muted small">
                    <code>{t.hint}</code> · {kindLabel(t)}
                  </div>
                </td>
                <td data-label="Status">
                  <Badge status={t.status as Status} /> <UnusedBadge t={t} />
                </td>
                <td class="wide" title={t.projects === "*" ? "All current and future projects" : t.projects.join("\n")}>
                  {projectsSummary(t.projects)}
                </td>
                <td class="wide" title={t.permissions.join("\n")}>
                  {permissionsSummary(t.permissions, t.permissionSet?.name)}
                  {t.admin && <span class="tag">admin</span>}
                </td>
                <td data-label="Last used">
                  <Time iso={t.lastUsedAt} />
                </td>
                <td data-label="Expires">
                  <Ending t={t} />
                </td>
                <td class="wide">
                  <Time iso={t.createdAt} />
                  <div class="muted small">by {t.creator.label ?? "someone since deleted"}</div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={list} />
    </Page>
  );
}

/** A column header that sorts the list (aria-sort says how it is sorted now). */
function SortHeader(props: {
  column: Sort;
  label: string;
  sort: Sort;
  order: "asc" | "desc";
  onSort: (c: Sort) => void;
}) {
  const on = props.sort === props.column;
  return (
    <th
      class={props.column === "created" ? "wide" : undefined}
      aria-sort={on ? (props.order === "asc" ? "ascending" : "descending") : undefined}
    >
      <button type="button" class="sort" onClick={() => props.onSort(props.column)}>
        {props.label}
        <span aria-hidden="true">{on ? (props.order === "asc" ? " ▲" : " ▼") : ""}</span>
      </button>
    </th>
  );
}
