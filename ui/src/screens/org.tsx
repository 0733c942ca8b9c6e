// An organization's groups and projects (members use the same table in members.tsx). Everyone in
// the organization reads them; its admins add and remove.
import type { ComponentChildren } from "preact";
import { api, type Group, type Page as List, type OrgResource, type Project } from "../client";
import { isOrgAdmin, session } from "../session";
import { useStore } from "../store";
import { confirmAction, Empty, Err, type FieldSpec, formDialog, Loading, Page, toast, useLoad } from "../ui";

export interface ResourceProps<T> {
  org: string;
  what: OrgResource;
  title: string;
  sub: string;
  noun: string;
  columns: [header: string, cell: (row: T) => ComponentChildren][];
  load: (org: string) => Promise<List<T>>;
  /** The create form; group pickers take their options from the organization's groups. */
  fields: (groups: Group[]) => FieldSpec[];
  create: (org: string, v: Record<string, string>) => Promise<unknown>;
  label: (row: T) => string;
  removal: string;
  empty: string;
  /** The name a rename starts from, and the rename itself (admins). */
  nameOf: (row: T) => string;
  rename: (org: string, row: T, name: string) => Promise<unknown>;
}

/** A table of one kind of the organization's records, with create and remove for admins. */
export function Resource<T extends { id: string }>(props: ResourceProps<T>) {
  const me = useStore(session)!;
  const admin = isOrgAdmin(me, props.org);
  const list = useLoad(() => Promise.all([props.load(props.org), api.groups(props.org)]), [props.org, props.what]);
  const [rows, groups] = list.data ?? [];
  const create = () =>
    formDialog({
      title: `New ${props.noun}`,
      action: "Create",
      fields: props.fields(groups?.items ?? []),
      run: (v) => props.create(props.org, v),
    }).then((ok) => ok && list.reload());
  const rename = (row: T) =>
    formDialog({
      title: `Rename ${props.noun} “${props.label(row)}”`,
      action: "Rename",
      fields: [{ name: "name", label: "Name", required: true, max: 100, value: props.nameOf(row) }],
      run: (v) => props.rename(props.org, row, v.name!),
    }).then((ok) => {
      if (!ok) return;
      toast(`${props.noun[0]!.toUpperCase()}${props.noun.slice(1)} renamed.`);
      list.reload();
    });
  const remove = (row: T) =>
    confirmAction({
      title: `Remove ${props.noun} “${props.label(row)}”?`,
      body: props.removal,
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
          <button type="button" class="primary" onClick={create}>
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
              {admin && (
                <th class="sel">
                  <span class="sr">Actions</span>
                </th>
              )}
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
                    <button
                      type="button"
                      class="inline"
                      aria-label={`Rename ${props.label(row)}`}
                      onClick={() => rename(row)}
                    >
                      Rename
                    </button>
                    <button
                      type="button"
                      class="inline"
                      aria-label={`Remove ${props.label(row)}`}
                      onClick={() => remove(row)}
                    >
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

export const SLUG_HINT = "Lower-case letters, digits and hyphens; used in addresses.";
export const groupOptions = (groups: Group[], none: string): [string, string][] => [
  ["", none],
  ...groups.map((g): [string, string] => [g.slug, g.name]),
];

export function Groups(props: { org: string }) {
  return (
    <Resource<Group>
      org={props.org}
      what="groups"
      noun="group"
      title="Groups"
      sub="Groups own projects and group tokens (tsg_), managed by the group's admins."
      empty="Create a group to let a team manage its own projects and tokens."
      removal="Its group tokens are deleted and stop working at once; its projects stay in the organization."
      label={(g) => g.name}
      nameOf={(g) => g.name}
      rename={(org, g, name) => api.renameGroup(org, g.id, name)}
      load={api.groups}
      columns={[
        ["Name", (g) => <a href={`/orgs/${props.org}/groups/${g.slug}`}>{g.name}</a>],
        ["Slug", (g) => <code>{g.slug}</code>],
      ]}
      fields={() => [
        { name: "name", label: "Name", required: true, max: 100 },
        { name: "slug", label: "Slug", required: true, max: 64, hint: SLUG_HINT, slugOf: "name" },
      ]}
      create={(org, v) => api.createGroup(org, { name: v.name!, slug: v.slug! })}
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
      sub="What a token can be scoped to. Downstream APIs name a project by its key."
      empty="Add the projects your APIs serve, so that tokens can be limited to them."
      removal="Tokens scoped to it lose it at once. This cannot be undone."
      label={(p) => p.key}
      nameOf={(p) => p.name}
      rename={(org, p, name) => api.renameProject(org, p.id, name)}
      load={api.projects}
      columns={[
        ["Key", (p) => <code>{p.key}</code>],
        ["Name", (p) => p.name],
        ["Group", (p) => p.group?.name ?? <span class="muted">None</span>],
      ]}
      fields={(groups) => [
        { name: "key", label: "Key", required: true, max: 200, hint: "As your APIs name it, e.g. “web-shop”." },
        { name: "name", label: "Name", required: true, max: 100 },
        {
          name: "group",
          label: "Group",
          type: "select",
          options: groupOptions(groups, "None: the whole organization"),
        },
      ]}
      create={(org, v) => api.createProject(org, { key: v.key!, name: v.name!, group: v.group || null })}
    />
  );
}
