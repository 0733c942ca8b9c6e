// The permission catalog: methods and the sets that bundle them. Instance owners add to it.
import { useState } from "preact/hooks";
import { api, type Permission, type PermissionSet } from "../client";
import { session } from "../session";
import { useStore } from "../store";
import { confirmAction, Dialog, Err, Field, formDialog, Loading, open, Page, toast, useForm, useLoad } from "../ui";
import { CheckList } from "./checklist";

export function Catalog() {
  const me = useStore(session)!;
  const data = useLoad(() => Promise.all([api.permissions(), api.permissionSets()]), []);
  const [perms, sets] = data.data ?? [];
  const owner = me.user.isOwner;
  const addPermission = () =>
    formDialog({
      title: "New permission",
      action: "Add",
      fields: [
        {
          name: "name",
          label: "Method",
          required: true,
          max: 100,
          hint: "As downstream APIs ask for it, e.g. “report:export”.",
        },
        { name: "description", label: "Description", max: 200 },
      ],
      run: (v) => api.createPermission({ name: v.name!, description: v.description ?? "" }),
    }).then((ok) => ok && data.reload());
  const editSet = (existing?: PermissionSet) =>
    open<boolean>((done) => (
      <SetDialog items={perms!.items.map((p) => [p.name, setItemText(p)])} existing={existing} done={done} />
    )).then((ok) => {
      if (!ok) return;
      if (existing) toast("Permission set saved.");
      data.reload();
    });
  const addSet = () => editSet();
  const removeSet = (set: PermissionSet) =>
    confirmAction({
      title: `Delete permission set “${set.name}”?`,
      body: "It is no longer offered when creating a token. Tokens made from it keep their permissions.",
      action: "Delete",
      danger: true,
      run: () => api.deletePermissionSet(set.id),
    }).then((ok) => {
      if (!ok) return;
      toast("Permission set deleted.");
      data.reload();
    });
  return (
    <Page title="Permissions" sub="The methods tokens can be granted, and the sets offered when creating a token.">
      {data.error ? (
        <Err text={data.error} />
      ) : !perms || !sets ? (
        <Loading />
      ) : (
        <>
          <div class="head">
            <h2>Permission sets</h2>
            {owner && (
              <button type="button" onClick={addSet}>
                New permission set
              </button>
            )}
          </div>
          <table>
            <thead>
              <tr>
                <th>Set</th>
                <th>Methods</th>
                {owner && (
                  <th>
                    <span class="sr">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {sets.items.map((s) => (
                <tr key={s.id}>
                  <td>
                    <strong>{s.name}</strong>
                    <div class="muted small">{s.description}</div>
                  </td>
                  <td>
                    {s.permissions.map((p) => (
                      <code class="tag">{p}</code>
                    ))}
                  </td>
                  {owner && (
                    <td>
                      <button type="button" class="inline" aria-label={`Edit ${s.name}`} onClick={() => editSet(s)}>
                        Edit
                      </button>
                      {!s.builtin && (
                        <button
                          type="button"
                          class="inline danger"
                          aria-label={`Delete ${s.name}`}
                          onClick={() => removeSet(s)}
                        >
                          Delete
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          <div class="head">
            <h2>Methods</h2>
            {owner && (
              <button type="button" onClick={addPermission}>
                New permission
              </button>
            )}
          </div>
          <table>
            <thead>
              <tr>
                <th>Method</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {perms.items.map((p) => (
                <tr key={p.name}>
                  <td>
                    <code>{p.name}</code>
                    {p.management && (
                      <>
                        {" "}
                        <span class="badge management">admin tokens only</span>
                      </>
                    )}
                    {p.dangerous && (
                      <>
                        {" "}
                        <span class="badge dangerous">dangerous</span>
                      </>
                    )}
                  </td>
                  <td>{p.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Page>
  );
}

/** A set holding a management permission works for admin tokens only: say so where it is chosen. */
const setItemText = (p: Permission) =>
  p.management ? `${p.description} (admin tokens only${p.dangerous ? "; dangerous" : ""})` : p.description;

/** Create a set, or (with `existing`) change its name, description and methods. */
function SetDialog(props: { items: [string, string][]; existing?: PermissionSet; done: (ok: boolean) => void }) {
  const e = props.existing;
  const [name, setName] = useState(e?.name ?? "");
  const [description, setDescription] = useState(e?.description ?? "");
  const [chosen, setChosen] = useState(new Set<string>(e?.permissions ?? []));
  const form = useForm(async () => {
    const fields = { name, description, permissions: [...chosen] };
    await (e ? api.editPermissionSet(e.id, fields) : api.createPermissionSet(fields));
    props.done(true);
  });
  return (
    <Dialog title={e ? `Edit permission set “${e.name}”` : "New permission set"} wide onClose={() => props.done(false)}>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <Field label="Name" name="name" error={form.fields.name}>
          <input required maxLength={100} autofocus value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Description" name="description" error={form.fields.description}>
          <input maxLength={200} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </Field>
        <fieldset data-field="permissions">
          <legend>Methods</legend>
          <CheckList what="methods" items={props.items} chosen={chosen} onChange={setChosen} />
          {form.fields.permissions && <p class="err">{form.fields.permissions}</p>}
        </fieldset>
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(false)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy || chosen.size === 0}>
            {e ? "Save" : "Create set"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
