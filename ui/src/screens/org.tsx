// An organization's groups and projects (members use the same table in members.tsx).
import type { ComponentChildren } from "preact";
import { api, type OrgResource, type Project, type Ref } from "../client";
import { isOrgAdmin, session } from "../session";
import { useStore } from "../store";
import { confirmAction, Empty, Err, type FieldSpec, formDialog, Loading, Page, useLoad } from "../ui";

export interface ResourceProps<T> {
  org: string;
  what: OrgResource;
  title: string;
  sub: string;
  noun: string;
  columns: [header: string, cell: (row: T) => ComponentChildren][];
  /** The create form; `options` comes from the loaded groups (for group pickers). */
  fields: (groups: Ref[]) => FieldSpec[];
  toBody?: (v: Record<string, string>) => unknown;
  label: (row: T) => string;
  empty: string;
}

/** A table of one kind of the organization's records, with create and remove for admins. */
export function Resource<T extends { id: string }>(props: ResourceProps<T>) {
  const me = useStore(session)!;
  const admin = isOrgAdmin(me, props.org);
  const list = useLoad(() => Promise.all([api.list<T>(props.org, props.what), api.list<Ref>(props.org, "groups")]), [props.org, props.what]);
  const [rows, groups] = list.data ?? [];
  const create = () =>
    formDialog({
      title: `New ${props.noun}`,
      action: "Create",
      fields: props.fields(groups?.items ?? []),
      run: (v) => api.create(props.org, props.what, props.toBody ? props.toBody(v) : v),
    }).then((ok) => ok && list.reload());
  const remove = (row: T) =>
    confirmAction({
      title: `Remove ${props.noun} “${props.label(row)}”?`,
      body: "This cannot be undone. Tokens scoped to it lose it at once.",
      action: "Remove",
      danger: true,
      run: () => api.remove(props.org, props.what, row.id),
    }).then((ok) => ok && list.reload());
  return (
    <Page
      title={props.title}
      sub={props.sub}
      actions={
        admin && (
          <button class="primary" onClick={create}>
            New {props.noun}
          </button>
        )
      }
    >
      {list.error ? (
        <Err text={list.error} />
      ) : !rows ? (
        <Loading />
      ) : rows.items.length === 0 ? (
        <Empty title={`No ${props.noun}s yet.`}>
          <p>{admin ? props.empty : "An admin of this organization can add them."}</p>
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              {props.columns.map(([h]) => (
                <th>{h}</th>
              ))}
              {admin && <th class="sel" />}
            </tr>
          </thead>
          <tbody>
            {rows.items.map((row) => (
              <tr key={row.id}>
                {props.columns.map(([, cell]) => (
                  <td>{cell(row)}</td>
                ))}
                {admin && (
                  <td>
                    <button class="inline" aria-label={`Remove ${props.label(row)}`} onClick={() => remove(row)}>
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

const SLUG_HINT = "Lower-case letters, digits and dashes; used in addresses.";
export const groupOptions = (groups: Ref[]): [string, string][] => [["", "No group"], ...groups.map((g): [string, string] => [g.slug, g.name])];

export function Groups(props: { org: string }) {
  return (
    <Resource<Ref>
      org={props.org}
      what="groups"
      noun="group"
      title="Groups"
      sub="Groups own projects and group tokens (tsg_), managed by the group's admins."
      empty="Create a group to let a team manage its own projects and tokens."
      label={(g) => g.name}
      columns={[
        ["Name", (g) => <a href={`/orgs/${props.org}/groups/${g.slug}`}>{g.name}</a>],
        ["Slug", (g) => <code>{g.slug}</code>],
      ]}
      fields={() => [
        { name: "name", label: "Name", required: true, max: 100 },
        { name: "slug", label: "Slug", required: true, max: 40, hint: SLUG_HINT },
      ]}
    />
  );
}

export function Projects(props: { org: string }) {
  return (
    <Resource<Project>
      org={props.org}
      what="projects"
      noun="project"
      title="Projects"
      sub="What a token can be scoped to. Downstream APIs ask for a project by its key."
      empty="Add the projects your APIs serve, so tokens can be limited to them."
      label={(p) => p.key}
      columns={[
        ["Key", (p) => <code>{p.key}</code>],
        ["Name", (p) => p.name],
        ["Group", (p) => p.group?.name ?? <span class="muted">None</span>],
      ]}
      fields={(groups) => [
        { name: "key", label: "Key", required: true, max: 200, hint: "As your APIs name it, e.g. “web-app”." },
        { name: "name", label: "Name", required: true, max: 100 },
        { name: "group", label: "Group", type: "select", options: groupOptions(groups) },
      ]}
      toBody={(v) => ({ key: v.key, name: v.name, group: v.group || null })}
    />
  );
}
