// The create dialog: name, owner, expiry, projects, permissions and the admin role. Each section is
// a hook that owns its state and renders its fields; the dialog composes them and sends the token.
// Its `done` receives the new token and its one-time secret, or null when cancelled.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  api,
  type Group,
  type Me,
  type NewToken,
  type Permission,
  type PermissionSet,
  type Project,
  type Scope,
  type Token,
  type WithSecret,
} from "../client";
import { absolute, DAY_MS, LATEST_EXPIRY_MS, tooLate } from "../format";
import { adminGroups, orgsOf } from "../session";
import { Dialog, Err, Field, invalid, Loading, useForm, useLoad } from "../ui";
import { useAllowlist } from "./allowlist";
import { CheckList, pickProjects, toggled } from "./checklist";
import { type LifetimeRule, lastAllowedDay, useExpiry } from "./expiry";

const loadCatalog = (org: string) =>
  Promise.all([api.groups(org), api.projects(org), api.permissions(), api.permissionSets(), api.policies(org)]);

/** The API's per-field errors, shown next to each section's fields. */
type Errors = Record<string, string>;

/** Opened through `createToken` and `copyToken` (token-dialogs.tsx), which load this module on first use. */
export function CreateDialog(props: {
  scope: Scope;
  me: Me;
  group?: string | undefined;
  source?: Token;
  done: (r: WithSecret | null) => void;
}) {
  const { scope, source } = props;
  const naming = useNaming(source);
  const owner = useOwner(scope, props.me, source ? (source.group?.slug ?? "") : props.group, source);
  const [rule, setRule] = useState<LifetimeRule | undefined>(undefined);
  const expiry = useExpiry(source, rule);
  const projects = useProjects(`${owner.org}/${owner.kind}/${owner.group}`, source);
  const data = useLoad(() => loadCatalog(owner.org), [owner.org]);
  const [groups, projectPage, permissions, sets, policies] = data.data ?? [];
  const ruleNow = policies?.lifetime[owner.personal ? "personal" : owner.kind];
  useEffect(() => setRule(ruleNow), [ruleNow?.maxLifetimeDays, ruleNow?.expiryRequired]);
  const allowedSets = owner.personal ? (policies?.personalPermissionSets ?? null) : null;
  const perms = usePermissions(
    permissions?.items ?? [],
    (sets?.items ?? []).filter((s) => !allowedSets || allowedSets.includes(s.id)),
    source,
    !allowedSets,
  );
  const allowlist = useAllowlist(source?.allowedIps);
  const usable = (projectPage?.items ?? []).filter((p) => !owner.inGroup || p.group?.slug === owner.group);

  const form = useForm(async () => {
    if (naming.name.length > 100) invalid("name", `At most 100 characters; this has ${naming.name.length}.`);
    if (!projects.all && projects.keys.length === 0)
      invalid("projects", "Select at least one project, or choose all projects.");
    if (!perms.set && perms.checked.size === 0)
      invalid("permissions", "Choose a permission set, or check at least one method.");
    if (expiry.expiresAt === undefined)
      invalid("expiresAt", expiry.preset === "" ? "Choose when the copy expires." : "Pick a date in the future.");
    if (tooLate(expiry.expiresAt))
      invalid(
        "expiresAt",
        `Pick a date no later than ${absolute(new Date(Date.now() + LATEST_EXPIRY_MS).toISOString())}.`,
      );
    policyRefusal(ruleNow, expiry.expiresAt);
    const body: NewToken = {
      name: naming.name,
      description: naming.description,
      expiresAt: expiry.expiresAt,
      projects: projects.all ? "*" : projects.keys,
    };
    const allowedIps = allowlist.ranges();
    if (allowedIps) body.allowedIps = allowedIps;
    if (perms.set) body.permissionSet = perms.set.id;
    else body.permissions = [...perms.checked];
    if (owner.personal) body.org = owner.org;
    else Object.assign(body, { kind: owner.kind, admin: perms.admin }, owner.inGroup && { group: owner.group });
    props.done(await api.createToken(scope, body));
  });
  const f = form.fields;

  return (
    <Dialog
      title={source ? `Copy “${source.name}”` : owner.personal ? "New personal token" : "New token"}
      wide
      onClose={() => props.done(null)}
    >
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        {source && (
          <p class="muted">
            A new token with its own secret. Narrow its projects or permissions, or change its expiry; the original
            stays as it is.
          </p>
        )}
        {naming.fields(f)}
        {owner.fields(f, groups?.items ?? [], perms.adminField(owner.inGroup))}
        {expiry.fields(f, ruleNow)}
        {data.loading ? (
          <Loading />
        ) : data.error ? (
          <Err text={data.error} />
        ) : (
          <>
            {projects.fields(f, usable, owner.inGroup)}
            {perms.fields(f)}
          </>
        )}
        {allowlist.field(f.allowedIps)}
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(null)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy || data.loading}>
            {form.busy ? "Creating…" : source ? "Create copy" : "Create token"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

function useNaming(source?: Token) {
  const [name, setName] = useState(source ? `${source.name} (copy)`.slice(0, 100) : "");
  const [description, setDescription] = useState(source?.description ?? "");
  const fields = (f: Errors) => (
    <>
      <Field
        label="Name"
        name="name"
        error={f.name}
        hint="What it is for, so that people know what breaks if it goes, e.g. “CI on main”."
      >
        <input required autofocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Description (optional)" name="description" error={f.description}>
        <textarea rows={2} maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </Field>
    </>
  );
  return { name, description, fields };
}

/**
 * Whose token it is: for a personal token, the organization it acts in; for an organization's
 * token, the organization or one of its groups (group admins only ever choose among their groups).
 */
function useOwner(scope: Scope, me: Me, presetGroup: string | undefined, source?: Token) {
  const personal = scope === "me";
  const orgs = orgsOf(me);
  const onlyGroups = personal ? null : adminGroups(me, scope.org);
  const [org, setOrg] = useState(source?.org.slug ?? (personal ? ([...orgs.keys()][0] ?? "") : scope.org));
  // A copy keeps its original's owner: the fields show it, fixed.
  const [kind, setKind] = useState<"org" | "group">(
    source ? (source.kind === "group" ? "group" : "org") : presetGroup || onlyGroups ? "group" : "org",
  );
  const [group, setGroup] = useState(presetGroup ?? onlyGroups?.[0] ?? "");
  const inGroup = kind === "group" && !personal;
  const fields = (f: Errors, groups: Group[], admin: ComponentChildren) =>
    personal ? (
      <Field label="Organization" name="org" error={f.org}>
        <select value={org} disabled={!!source} onChange={(e) => setOrg(e.currentTarget.value)}>
          {[...orgs].map(([slug, n]) => (
            <option value={slug}>{n}</option>
          ))}
        </select>
      </Field>
    ) : (
      <fieldset>
        <legend>Owner</legend>
        {!onlyGroups && !presetGroup && !source && (
          <div class="row">
            <label>
              <input type="radio" name="kind" checked={kind === "org"} onChange={() => setKind("org")} /> The
              organization (<code>tso_</code>)
            </label>
            <label>
              <input type="radio" name="kind" checked={kind === "group"} onChange={() => setKind("group")} /> A group (
              <code>tsg_</code>)
            </label>
          </div>
        )}
        {inGroup && (
          <Field label="Group" name="group" error={f.group}>
            <select value={group} required disabled={!!source} onChange={(e) => setGroup(e.currentTarget.value)}>
              <option value="">Choose a group</option>
              {groups
                .filter((g) => !onlyGroups || onlyGroups.includes(g.slug))
                .map((g) => (
                  <option value={g.slug}>{g.name}</option>
                ))}
            </select>
          </Field>
        )}
        {admin}
      </fieldset>
    );
  return { personal, org, kind, group, inGroup, fields };
}

/** The policy's refusal, before the request: the API would answer 422 `policy_violation` the same. */
function policyRefusal(rule: LifetimeRule | undefined, expiresAt: string | null | undefined): void {
  if (!rule || expiresAt === undefined) return;
  if (rule.expiryRequired && expiresAt === null)
    invalid("expiresAt", "This organization's policy requires an expiry for this kind of token.");
  const max = rule.maxLifetimeDays;
  if (max !== null && expiresAt !== null && Date.parse(expiresAt) > Date.now() + max * DAY_MS)
    invalid(
      "expiresAt",
      `This organization's policy allows at most ${max} days: pick a date no later than ${lastAllowedDay(max)}.`,
    );
}

/** All projects, or a chosen few; another owner sees other projects, so the choice starts over. */
function useProjects(owner: string, source?: Token) {
  const [all, setAll] = useState(source?.projects === "*");
  const [keys, setKeys] = useState<string[]>(source && source.projects !== "*" ? source.projects : []);
  const first = useRef(true);
  useEffect(() => {
    // The owner's first value is the copy's own: its projects stay chosen.
    if (first.current) first.current = false;
    else setKeys([]);
  }, [owner]);
  const fields = (f: Errors, usable: Project[], inGroup: boolean) => {
    const choose = async () => {
      const chosen = await pickProjects(
        usable.map((p) => [p.key, p.name]),
        keys,
      );
      if (chosen) setKeys(chosen);
    };
    return (
      <fieldset data-field="projects">
        <legend>Projects</legend>
        <label class="check">
          <input type="radio" name="projects" checked={all} onChange={() => setAll(true)} /> All projects, current and
          future
        </label>
        <label class="check">
          <input type="radio" name="projects" checked={!all} onChange={() => setAll(false)} /> Only selected projects
        </label>
        {!all &&
          (usable.length === 0 ? (
            <p class="muted">
              There are no projects {inGroup ? "in this group" : "yet"}. Add projects first, or choose all projects.
            </p>
          ) : (
            <div class="row">
              <button type="button" onClick={choose}>
                Select projects…
              </button>
              <span class="muted">{keys.length ? keys.join(", ") : "None selected"}</span>
            </div>
          ))}
        {f.projects && <p class="err">{f.projects}</p>}
      </fieldset>
    );
  };
  return { all, keys, fields };
}

/**
 * A permission set or methods one by one, and the admin role with its management permissions.
 * Management permissions are for admin tokens only (the API refuses them elsewhere): offered apart,
 * and only while "Admin" is on.
 */
function usePermissions(catalog: Permission[], sets: PermissionSet[], source?: Token, custom = true) {
  const [setId, setSetId] = useState(source?.permissionSet?.id ?? "");
  const [checked, setChecked] = useState(new Set<string>(source && !source.permissionSet ? source.permissions : []));
  const [admin, setAdmin] = useState(source?.admin ?? false);
  const set = sets.find((s) => s.id === setId);
  const methods = catalog.filter((p) => !p.management);
  const management = catalog.filter((p) => p.management);
  const chosenManagement = management.filter((p) => checked.has(p.name));
  const dangerous = chosenManagement.filter((p) => p.dangerous).map((p) => p.name);
  const toggleAdmin = () => {
    if (admin) setChecked(new Set([...checked].filter((name) => !management.some((p) => p.name === name))));
    setAdmin(!admin);
  };
  const adminField = (inGroup: boolean) => (
    <label class="check">
      <input type="checkbox" checked={admin} onChange={toggleAdmin} /> Admin: this token may use the management API with
      the rights of the {inGroup ? "group's" : "organization's"} admins, as far as the management permissions below
      allow
    </label>
  );
  const fields = (f: Errors) => (
    <>
      <fieldset data-field="permissions">
        <legend>Permissions</legend>
        <Field label="Permission set">
          <select value={setId} onChange={(e) => setSetId(e.currentTarget.value)}>
            <option value="">{custom ? "Custom: pick methods one by one" : "Choose a set the policy allows"}</option>
            {sets.map((s) => (
              <option value={s.id}>{s.name}</option>
            ))}
          </select>
        </Field>
        {set ? (
          <p class="muted">{set.permissions.join(", ")}</p>
        ) : !custom ? (
          <p class="muted" role="note">
            Policy: personal tokens use one of these permission sets.
          </p>
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
              <input
                type="checkbox"
                checked={checked.has(p.name)}
                onChange={() => setChecked(toggled(checked, p.name))}
              />{" "}
              <code>{p.name}</code> {p.dangerous && <span class="badge dangerous">dangerous</span>}{" "}
              <span class="muted">{p.description}</span>
            </label>
          ))}
          {dangerous.length > 0 && (
            <p class="warn" role="alert">
              {dangerous.join(", ")}: whoever holds this token can give lasting access to others (new members and
              admins), or redirect what Tessera sends and forwards (webhook, upstreams). If it leaks, that access
              outlives the token. Grant it only to automation that truly needs it.
            </p>
          )}
        </fieldset>
      )}
    </>
  );
  return { admin, set, checked, adminField, fields };
}
