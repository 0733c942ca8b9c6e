// Token lists: an organization's, a group's, and "My tokens". Filters live in the address.
import { useEffect, useState } from "preact/hooks";
import { api, type Scope, type Token } from "../client";
import { permissionsSummary, projectsSummary, STATUS_LABEL, type Status } from "../format";
import { route, setQuery } from "../router";
import { adminGroups, canManage, session } from "../session";
import { useStore } from "../store";
import { Badge, confirmAction, Empty, Err, Loading, LoadMore, Page, Time, usePaged } from "../ui";
import { toggled } from "./checklist";
import { createToken } from "./create";
import { showSecret } from "./secret";

export const tokenHref = (scope: Scope, id: string) =>
  scope === "me" ? `/me/tokens/${id}` : `/orgs/${scope.org}/tokens/${id}`;

export function kindLabel(t: Token): string {
  if (t.kind === "personal") return `Personal · ${t.org.slug}`;
  return t.group ? `Group ${t.group.name}` : "Organization";
}

export function TokenList(props: { scope: Scope; group?: string }) {
  const { scope, group } = props;
  const me = useStore(session)!;
  const { query } = useStore(route);
  const status = query.get("status") ?? "";
  const q = query.get("q") ?? "";
  const [search, setSearch] = useState(q);
  const [selected, setSelected] = useState(new Set<string>());
  const key = JSON.stringify([scope, group, status, q]);
  const list = usePaged((cursor) => api.tokens(scope, { status, q, group, cursor }), [key]);
  useEffect(() => setSelected(new Set()), [key]);
  // Back and forward change the address: the search box follows it.
  useEffect(() => setSearch(q), [q]);
  // Search as one types, without a request per key stroke.
  useEffect(() => {
    const t = setTimeout(() => search !== q && setQuery({ status, q: search }), 300);
    return () => clearTimeout(t);
  }, [search]);

  const items = list.items;
  const manageable = items.filter((t) => t.status !== "revoked" && canManage(me, t));
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
    }).then((done) => done && refresh());
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
        <select aria-label="Status" value={status} onChange={(e) => setQuery({ status: e.currentTarget.value, q })}>
          <option value="">All statuses</option>
          {Object.entries(STATUS_LABEL).map(([k, l]) => (
            <option value={k}>{l}</option>
          ))}
        </select>
        <button type="button" onClick={refresh} disabled={list.loading}>
          Refresh
        </button>
        {selected.size > 0 && (
          <span class="bulk">
            <span role="status">{selected.size} selected</span>
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
        <table>
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
              <th>Name</th>
              <th>Status</th>
              <th>Projects</th>
              <th>Permissions</th>
              <th>Last used</th>
              <th>Expires</th>
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
                <td>
                  <a href={tokenHref(scope, t.id)}>{t.name}</a>
                  <div class="muted small">
                    <code>{t.hint}</code> · {kindLabel(t)}
                  </div>
                </td>
                <td>
                  <Badge status={t.status as Status} />
                </td>
                <td title={t.projects === "*" ? "All current and future projects" : t.projects.join("\n")}>
                  {projectsSummary(t.projects)}
                </td>
                <td title={t.permissions.join("\n")}>
                  {permissionsSummary(t.permissions, t.permissionSet?.name)}
                  {t.admin && <span class="tag">admin</span>}
                </td>
                <td>
                  <Time iso={t.lastUsedAt} />
                </td>
                <td>
                  <Time iso={t.expiresAt} />
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
