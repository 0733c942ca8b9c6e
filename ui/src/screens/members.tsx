// Who may use the console in this organization, and with which role. People join by invitation:
// nobody here ever chooses another person's password.

import { useState } from "preact/hooks";
import { api, type Invitation, type Member, type OneTimeLink, type Role } from "../client";
import { isOrgAdmin, session } from "../session";
import { useStore } from "../store";
import {
  confirmAction,
  Dialog,
  Empty,
  Err,
  Field,
  formDialog,
  Loading,
  open,
  Page,
  Time,
  toast,
  useForm,
  useLoad,
} from "../ui";
import { CheckList } from "./checklist";
import { groupOptions } from "./org";
import { showOneTimeSecret } from "./secret";

const ROLES: [Role, string][] = [
  ["org_member", "Member"],
  ["org_admin", "Admin"],
  ["group_member", "Group member"],
  ["group_admin", "Group admin"],
];
const roleName = (r: Role) => ROLES.find(([k]) => k === r)?.[1] ?? r;

/** The one-time link, shown once with Copy; gone when the dialog closes (Tessera keeps only its hash). */
export function showLink(opts: { title: string; intro: string; link: OneTimeLink; expiresAt: string }): Promise<void> {
  return showOneTimeSecret({
    title: opts.title,
    label: "Link",
    secret: opts.link.url,
    why: (
      <>
        {opts.intro} It works once and expires <Time iso={opts.expiresAt} />.
      </>
    ),
  });
}

export function Members(props: { org: string }) {
  const me = useStore(session)!;
  const admin = isOrgAdmin(me, props.org);
  // Pending invitations are for the organization's admins only.
  const list = useLoad(
    () =>
      Promise.all([
        api.members(props.org),
        admin ? api.invitations(props.org) : Promise.resolve({ items: [] as Invitation[], next: null }),
        api.groups(props.org),
      ]),
    [props.org, admin],
  );
  const [members, invitations, groups] = list.data ?? [];

  const add = async () => {
    let invited: { invitation: Invitation; secret: string; url: string } | null = null;
    const ok = await formDialog({
      title: "New member",
      action: "Add",
      intro: (
        <p class="muted">
          Someone with an account here joins at once. Anyone else gets a one-time invitation link and chooses their own
          password.
        </p>
      ),
      fields: [
        { name: "email", label: "Email", type: "email", required: true },
        { name: "role", label: "Role", type: "select", options: ROLES },
        {
          name: "group",
          label: "Group (for group roles)",
          type: "select",
          options: groupOptions(groups?.items ?? [], "None"),
        },
      ],
      run: async (v) => {
        const added = await api.addMember(props.org, {
          email: v.email!,
          role: v.role as Role,
          ...(v.group && { group: v.group }),
        });
        if ("secret" in added) invited = added;
      },
    });
    if (!ok) return;
    list.reload();
    const made = invited as { invitation: Invitation; secret: string; url: string } | null;
    if (made) {
      await showLink({
        title: `Invitation for ${made.invitation.email}`,
        intro: `Send this link to ${made.invitation.email} yourself; with it they choose their name and password and join as ${roleName(made.invitation.role)}.`,
        link: made,
        expiresAt: made.invitation.expiresAt,
      });
    }
  };
  const edit = (m: Member) =>
    open<boolean>((done) => <EditMember org={props.org} member={m} done={done} />).then((ok) => {
      if (!ok) return;
      toast("Member saved.");
      list.reload();
    });
  const remove = (m: Member) =>
    confirmAction({
      title: `Remove member “${m.user.email}”?`,
      body: "Their personal tokens in this organization are revoked when they have no other role here.",
      action: "Remove",
      danger: true,
      run: () => api.remove(props.org, "members", m.id),
    }).then((ok) => ok && list.reload());
  const revoke = (i: Invitation) =>
    confirmAction({
      title: `Revoke the invitation for “${i.email}”?`,
      body: "The link stops working at once. You can invite them again later.",
      action: "Revoke",
      danger: true,
      run: () => api.revokeInvitation(props.org, i.id),
    }).then((ok) => ok && list.reload());
  const reset = async (m: Member) => {
    let link: (OneTimeLink & { expiresAt: string }) | null = null;
    const ok = await confirmAction({
      title: `Password reset link for “${m.user.email}”?`,
      body: "For a person who lost their password: they choose a new one through the link, and every session of theirs ends. An earlier unused link stops working.",
      action: "Create link",
      run: async () => {
        link = await api.issuePasswordReset(m.user.id);
      },
    });
    const made = link as (OneTimeLink & { expiresAt: string }) | null;
    if (ok && made) {
      await showLink({
        title: `Password reset for ${m.user.email}`,
        intro: `Send this link to ${m.user.email} yourself, by a channel you trust.`,
        link: made,
        expiresAt: made.expiresAt,
      });
    }
  };

  const empty = !members || (members.items.length === 0 && (invitations?.items.length ?? 0) === 0);
  return (
    <Page
      title="Members"
      sub="Admins manage the organization's tokens; members manage their own personal tokens."
      actions={
        admin && (
          <button type="button" class="primary" onClick={add}>
            New member
          </button>
        )
      }
    >
      {list.error ? (
        <Err text={list.error} />
      ) : !members ? (
        <Loading />
      ) : empty ? (
        <Empty title="No members yet.">
          <p>{admin ? "Add the people who manage tokens with you." : "An admin of this organization can add them."}</p>
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Group</th>
              <th>Status</th>
              {admin && (
                <th class="sel">
                  <span class="sr">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {members.items.map((m) => (
              <tr key={m.id}>
                <td>{m.user.email}</td>
                <td>
                  {roleName(m.role)}
                  {m.permissions && (
                    <div class="muted small">
                      Up to {m.permissions.length} permission{m.permissions.length === 1 ? "" : "s"}
                    </div>
                  )}
                </td>
                <td>{m.group?.name ?? <span class="muted">Whole organization</span>}</td>
                <td>Member</td>
                {admin && (
                  <td>
                    {me.user.isOwner && m.user.id !== me.user.id && (
                      <button
                        type="button"
                        class="inline"
                        aria-label={`Reset the password of ${m.user.email}`}
                        onClick={() => reset(m)}
                      >
                        Reset password
                      </button>
                    )}
                    <button type="button" class="inline" aria-label={`Edit ${m.user.email}`} onClick={() => edit(m)}>
                      Edit
                    </button>
                    <button
                      type="button"
                      class="inline"
                      aria-label={`Remove ${m.user.email}`}
                      onClick={() => remove(m)}
                    >
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
            {invitations?.items.map((i) => (
              <tr key={i.id}>
                <td>{i.email}</td>
                <td>{roleName(i.role)}</td>
                <td>{i.group?.name ?? <span class="muted">Whole organization</span>}</td>
                <td>
                  <span class="badge expiring">Invited</span>{" "}
                  <span class="muted">
                    expires <Time iso={i.expiresAt} />
                  </span>
                </td>
                <td>
                  <button
                    type="button"
                    class="inline"
                    aria-label={`Revoke the invitation for ${i.email}`}
                    onClick={() => revoke(i)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}

/**
 * A member's role (within its kind: an organization role, or a role in the membership's group) and
 * the ceiling of their personal tokens: every permission, or only the chosen ones.
 */
function EditMember(props: { org: string; member: Member; done: (ok: boolean) => void }) {
  const m = props.member;
  const catalog = useLoad(api.permissions, []);
  const [role, setRole] = useState<Role>(m.role);
  const [limited, setLimited] = useState(m.permissions !== null);
  const [chosen, setChosen] = useState(new Set(m.permissions ?? []));
  const roles = ROLES.filter(([r]) => r.startsWith("group_") === m.role.startsWith("group_"));
  const form = useForm(async () => {
    await api.editMember(props.org, m.id, { role, permissions: limited ? [...chosen] : null });
    props.done(true);
  });
  return (
    <Dialog title={`Edit member “${m.user.email}”`} wide onClose={() => props.done(false)}>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <Field label="Role" name="role" error={form.fields.role}>
          <select value={role} autofocus onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {roles.map(([r, name]) => (
              <option value={r}>{name}</option>
            ))}
          </select>
        </Field>
        <fieldset data-field="permissions">
          <legend>Their personal tokens may hold</legend>
          <label class="check">
            <input type="radio" name="ceiling" checked={!limited} onChange={() => setLimited(false)} /> Every permission
          </label>
          <label class="check">
            <input type="radio" name="ceiling" checked={limited} onChange={() => setLimited(true)} /> Only these
          </label>
          {limited &&
            (catalog.data ? (
              <CheckList
                what="permissions"
                items={catalog.data.items.map((p) => [p.name, p.description])}
                chosen={chosen}
                onChange={setChosen}
              />
            ) : (
              <Err text={catalog.error} />
            ))}
          {form.fields.permissions && <p class="err">{form.fields.permissions}</p>}
        </fieldset>
        <p class="muted small">Narrowing this narrows their existing personal tokens at once.</p>
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(false)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy}>
            Save
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
