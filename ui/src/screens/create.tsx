// The create dialog: name, expiry, projects, permissions, admin role. Resolves to the new token and
// its one-time secret, or null when cancelled.
import { useState } from "preact/hooks";
import { api, type Me, type NewToken, type Scope, type WithSecret } from "../client";
import { absolute, DAY_MS, EXPIRY_PRESETS, type ExpiryPreset, expiryOf, localDay } from "../format";
import { adminGroups, orgsOf } from "../session";
import { Dialog, Err, Field, invalid, Loading, open, useForm, useLoad } from "../ui";
import { CheckList, pickProjects } from "./checklist";

export function createToken(scope: Scope, me: Me, group?: string): Promise<WithSecret | null> {
  return open((done) => <CreateDialog scope={scope} me={me} group={group} done={done} />);
}

const loadCatalog = (org: string) =>
  Promise.all([api.groups(org), api.projects(org), api.permissions(), api.permissionSets()]);

function CreateDialog(props: {
  scope: Scope;
  me: Me;
  group?: string | undefined;
  done: (r: WithSecret | null) => void;
}) {
  const { scope, me } = props;
  const personal = scope === "me";
  const orgs = orgsOf(me);
  const onlyGroups = personal ? null : adminGroups(me, scope.org);
  const [org, setOrg] = useState(personal ? ([...orgs.keys()][0] ?? "") : scope.org);
  const [kind, setKind] = useState<"org" | "group">(props.group || onlyGroups ? "group" : "org");
  const [group, setGroup] = useState(props.group ?? onlyGroups?.[0] ?? "");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [preset, setPreset] = useState<ExpiryPreset>("30");
  const [date, setDate] = useState("");
  const [all, setAll] = useState(false);
  const [projects, setProjects] = useState<string[]>([]);
  const [setId, setSetId] = useState("");
  const [checked, setChecked] = useState(new Set<string>());
  const [admin, setAdmin] = useState(false);
  const data = useLoad(() => loadCatalog(org), [org]);
  const [groups, projectPage, permissions, sets] = data.data ?? [];
  const inGroup = kind === "group" && !personal;
  const usable = (projectPage?.items ?? []).filter((p) => !inGroup || p.group?.slug === group);
  const set = sets?.items.find((s) => s.id === setId);
  const expiresAt = expiryOf(preset, date);
  // Management permissions are for admin tokens only (the API refuses them elsewhere): offered
  // apart, and only while "Admin" is on.
  const methods = (permissions?.items ?? []).filter((p) => !p.management);
  const management = (permissions?.items ?? []).filter((p) => p.management);
  const chosenManagement = management.filter((p) => checked.has(p.name));
  const toggleAdmin = () => {
    if (admin) setChecked(new Set([...checked].filter((name) => !management.some((p) => p.name === name))));
    setAdmin(!admin);
  };
  const toggleManagement = (name: string) => {
    const next = new Set(checked);
    if (!next.delete(name)) next.add(name);
    setChecked(next);
  };

  const form = useForm(async () => {
    if (!all && projects.length === 0) invalid("projects", "Select at least one project, or choose all projects.");
    if (!set && checked.size === 0) invalid("permissions", "Choose a permission set, or check at least one method.");
    if (expiresAt === undefined) invalid("expiresAt", "Pick a date in the future.");
    const body: NewToken = { name, description, expiresAt, projects: all ? "*" : projects };
    if (set) body.permissionSet = set.id;
    else body.permissions = [...checked];
    if (personal) body.org = org;
    else Object.assign(body, { kind, admin }, inGroup && { group });
    props.done(await api.createToken(scope, body));
  });
  const f = form.fields;

  const choose = async () => {
    const keys = await pickProjects(
      usable.map((p) => [p.key, p.name]),
      projects,
    );
    if (keys) setProjects(keys);
  };

  return (
    <Dialog title={personal ? "New personal token" : "New token"} wide onClose={() => props.done(null)}>
      <form onSubmit={form.onSubmit}>
        <Field
          label="Name"
          error={f.name}
          hint="What it is for, so that people know what breaks if it goes, e.g. “CI on main”."
        >
          <input required maxLength={100} autofocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Description (optional)" error={f.description}>
          <textarea
            rows={2}
            maxLength={500}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </Field>
        {personal ? (
          <Field label="Organization" error={f.org}>
            <select value={org} onChange={(e) => (setOrg(e.currentTarget.value), setProjects([]))}>
              {[...orgs].map(([slug, n]) => (
                <option value={slug}>{n}</option>
              ))}
            </select>
          </Field>
        ) : (
          <fieldset>
            <legend>Owner</legend>
            {!onlyGroups && !props.group && (
              <div class="row">
                <label>
                  <input
                    type="radio"
                    name="kind"
                    checked={kind === "org"}
                    onChange={() => (setKind("org"), setProjects([]))}
                  />{" "}
                  The organization (<code>tso_</code>)
                </label>
                <label>
                  <input
                    type="radio"
                    name="kind"
                    checked={kind === "group"}
                    onChange={() => (setKind("group"), setProjects([]))}
                  />{" "}
                  A group (<code>tsg_</code>)
                </label>
              </div>
            )}
            {inGroup && (
              <Field label="Group" error={f.group}>
                <select value={group} required onChange={(e) => (setGroup(e.currentTarget.value), setProjects([]))}>
                  <option value="">Choose a group</option>
                  {(groups?.items ?? [])
                    .filter((g) => !onlyGroups || onlyGroups.includes(g.slug))
                    .map((g) => (
                      <option value={g.slug}>{g.name}</option>
                    ))}
                </select>
              </Field>
            )}
            <label class="check">
              <input type="checkbox" checked={admin} onChange={toggleAdmin} /> Admin: this token may use the management
              API with the rights of the {inGroup ? "group's" : "organization's"} admins, as far as the management
              permissions below allow
            </label>
          </fieldset>
        )}
        <fieldset>
          <legend>Expiration</legend>
          <div class="row">
            <Field label="Expires" error={f.expiresAt}>
              <select value={preset} onChange={(e) => setPreset(e.currentTarget.value as ExpiryPreset)}>
                {EXPIRY_PRESETS.map((d) => (
                  <option value={d}>{d} days</option>
                ))}
                <option value="date">On a date…</option>
                <option value="none">No expiration</option>
              </select>
            </Field>
            {preset === "date" && (
              <Field label="Date">
                <input
                  type="date"
                  required
                  min={localDay(Date.now() + DAY_MS)}
                  value={date}
                  onInput={(e) => setDate(e.currentTarget.value)}
                />
              </Field>
            )}
          </div>
          {preset === "none" ? (
            <p class="warn" role="note">
              A token that never expires stays dangerous if it leaks. Prefer an expiry; Tessera deletes a token without
              one after 60 days unused.
            </p>
          ) : (
            expiresAt && <p class="muted">The token will expire on {absolute(expiresAt)}.</p>
          )}
        </fieldset>
        {data.loading ? (
          <Loading />
        ) : data.error ? (
          <Err text={data.error} />
        ) : (
          <>
            <fieldset>
              <legend>Projects</legend>
              <label class="check">
                <input type="radio" name="projects" checked={all} onChange={() => setAll(true)} /> All projects, current
                and future
              </label>
              <label class="check">
                <input type="radio" name="projects" checked={!all} onChange={() => setAll(false)} /> Only selected
                projects
              </label>
              {!all &&
                (usable.length === 0 ? (
                  <p class="muted">
                    There are no projects {inGroup ? "in this group" : "yet"}. Add projects first, or choose all
                    projects.
                  </p>
                ) : (
                  <div class="row">
                    <button type="button" onClick={choose}>
                      Select projects…
                    </button>
                    <span class="muted">{projects.length ? projects.join(", ") : "None selected"}</span>
                  </div>
                ))}
              {f.projects && <p class="err">{f.projects}</p>}
            </fieldset>
            <fieldset>
              <legend>Permissions</legend>
              <Field label="Permission set">
                <select value={setId} onChange={(e) => setSetId(e.currentTarget.value)}>
                  <option value="">Custom: pick methods one by one</option>
                  {sets!.items.map((s) => (
                    <option value={s.id}>{s.name}</option>
                  ))}
                </select>
              </Field>
              {set ? (
                <p class="muted">{set.permissions.join(", ")}</p>
              ) : (
                <CheckList
                  what="methods"
                  items={methods.map((p) => [p.name, p.description])}
                  chosen={new Set([...checked].filter((name) => !chosenManagement.some((p) => p.name === name)))}
                  onChange={(next) => setChecked(new Set([...next, ...chosenManagement.map((p) => p.name)]))}
                />
              )}
              {f.permissions && <p class="err">{f.permissions}</p>}
            </fieldset>
            {admin && !set && management.length > 0 && (
              <fieldset aria-label="Management permissions">
                <legend>Management permissions</legend>
                <p class="muted">
                  What this admin token may do through the management API. Grant only what its automation needs.
                </p>
                {management.map((p) => (
                  <label class="check" key={p.name}>
                    <input type="checkbox" checked={checked.has(p.name)} onChange={() => toggleManagement(p.name)} />{" "}
                    <code>{p.name}</code> {p.dangerous && <span class="badge dangerous">dangerous</span>}{" "}
                    <span class="muted">{p.description}</span>
                  </label>
                ))}
                {chosenManagement.some((p) => p.dangerous) && (
                  <p class="warn" role="alert">
                    {chosenManagement
                      .filter((p) => p.dangerous)
                      .map((p) => p.name)
                      .join(", ")}
                    : whoever holds this token can give lasting access to others (new members and admins), or redirect
                    what Tessera sends and forwards (webhook, upstreams). If it leaks, that access outlives the token.
                    Grant it only to automation that truly needs it.
                  </p>
                )}
              </fieldset>
            )}
          </>
        )}
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(null)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy || data.loading}>
            {form.busy ? "Creating…" : "Create token"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
