// An organization's gateway upstreams (org admins): the APIs clients reach through /gw/<name>/,
// each with its rules and its signing secret, which is shown once after create and rotate.
import { useState } from "preact/hooks";
import { api, type Rule, type Upstream } from "../client";
import { confirmAction, Dialog, Empty, Err, Field, Loading, open, Page, useForm, useLoad } from "../ui";
import { showOneTimeSecret } from "./secret";

const METHODS = ["*", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

const showSigningSecret = (name: string, secret: string) =>
  showOneTimeSecret({
    title: `Signing secret of “${name}”`,
    label: "Signing secret",
    secret,
    fileName: `${name}.signing-secret.txt`,
    why: (
      <>
        Your API checks <code>X-Tessera-Signature</code> with it (docs/INTEGRATION.md, “Check the signature”). If you
        lose it, rotate it.
      </>
    ),
  });

export function Upstreams(props: { org: string }) {
  const list = useLoad(() => api.upstreams(props.org), [props.org]);
  const rows = list.data?.items;
  const edit = async (existing?: Upstream) => {
    const result = await open<Done>((done) => <UpstreamDialog org={props.org} existing={existing} done={done} />);
    if (!result) return;
    list.reload();
    if (result !== true) await showSigningSecret(result.name, result.signingSecret);
  };
  const rotate = async (u: Upstream) => {
    let secret = "";
    const ok = await confirmAction({
      title: `Rotate the signing secret of “${u.name}”?`,
      body: "The gateway signs with a new secret at once: your API refuses its requests until it has the new one.",
      action: "Rotate",
      danger: true,
      run: async () => {
        secret = (await api.rotateUpstreamSecret(props.org, u.name)).signingSecret;
      },
    });
    if (!ok) return;
    list.reload();
    await showSigningSecret(u.name, secret);
  };
  const remove = (u: Upstream) =>
    confirmAction({
      title: `Delete upstream “${u.name}”?`,
      body: `Requests to /gw/${u.name}/ are refused at once. This cannot be undone.`,
      action: "Delete",
      danger: true,
      run: () => api.deleteUpstream(props.org, u.name),
    }).then((ok) => ok && list.reload());
  return (
    <Page
      title="Upstreams"
      sub={
        <>
          APIs behind the gateway: clients call <code>/gw/&lt;name&gt;/…</code> with their token; Tessera checks it
          against the rules and signs what it forwards.
        </>
      }
      actions={
        <button type="button" class="primary" onClick={() => edit()}>
          New upstream
        </button>
      }
    >
      {list.error ? (
        <Err text={list.error} />
      ) : !rows ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty title="No upstreams yet.">
          <p>Add an API to put it behind the gateway; paths without a rule are refused.</p>
        </Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Origin</th>
              <th>Rules</th>
              <th>Project from path</th>
              <th>Signing secret</th>
              <th>
                <span class="sr">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((u) => (
              <tr key={u.name}>
                <td>
                  <code>{u.name}</code>
                </td>
                <td class="mono">{u.origin}</td>
                <td class="small">
                  {u.rules.map((r) => (
                    <div>
                      {r.method === "*" ? "Any" : r.method} <code>{r.pathPrefix}</code> → <code>{r.permission}</code>
                    </div>
                  ))}
                </td>
                <td>{u.projectFromPath ? "Yes" : "No"}</td>
                <td class="mono">{u.signingSecretHint ?? <span class="muted">None</span>}</td>
                <td>
                  <button type="button" class="inline" aria-label={`Edit ${u.name}`} onClick={() => edit(u)}>
                    Edit
                  </button>
                  <button
                    type="button"
                    class="inline"
                    aria-label={`Rotate signing secret of ${u.name}`}
                    onClick={() => rotate(u)}
                  >
                    Rotate signing secret
                  </button>
                  <button type="button" class="inline danger" aria-label={`Delete ${u.name}`} onClick={() => remove(u)}>
                    Delete
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

/** false: cancelled; true: saved; a created upstream comes back with its secret, to be shown once. */
type Done = boolean | { name: string; signingSecret: string };

/** Create (with a name) or edit (origin, rules, project from path). */
function UpstreamDialog(props: { org: string; existing: Upstream | undefined; done: (result: Done) => void }) {
  const e = props.existing;
  const catalog = useLoad(api.permissions, []);
  const [name, setName] = useState("");
  const [origin, setOrigin] = useState(e?.origin ?? "https://");
  const [fromPath, setFromPath] = useState(e?.projectFromPath ?? false);
  const [rules, setRules] = useState<Rule[]>(e?.rules ?? [{ method: "GET", pathPrefix: "/", permission: "" }]);
  const setRule = (i: number, change: Partial<Rule>) =>
    setRules(rules.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const form = useForm(async () => {
    const fields = { origin, rules, projectFromPath: fromPath };
    if (e) {
      await api.editUpstream(props.org, e.name, fields);
      props.done(true);
      return;
    }
    props.done(await api.createUpstream(props.org, { name, ...fields }));
  });
  // The API names rule errors by position ("rules.1.pathPrefix") or for the whole list ("rules").
  const ruleErrors = Object.entries(form.fields).filter(([f]) => f.startsWith("rules"));
  const permissions = catalog.data?.items ?? [];
  return (
    <Dialog title={e ? `Edit upstream “${e.name}”` : "New upstream"} onClose={() => props.done(false)} wide>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        {!e && (
          <Field
            label="Name"
            name="name"
            error={form.fields.name}
            hint="Lower-case letters, digits and hyphens: clients call /gw/<name>/…."
          >
            <input required autofocus maxLength={64} value={name} onInput={(ev) => setName(ev.currentTarget.value)} />
          </Field>
        )}
        <Field
          label="Origin"
          name="origin"
          error={form.fields.origin}
          hint="Where requests go, e.g. https://api.example.com/v2 (a base path is allowed)."
        >
          <input type="url" required value={origin} onInput={(ev) => setOrigin(ev.currentTarget.value)} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={fromPath} onChange={() => setFromPath(!fromPath)} /> Project from path: the
          first path segment names the project the token must cover
        </label>
        <fieldset>
          <legend>Rules</legend>
          <p class="muted small">The longest matching path prefix decides which permission a request needs.</p>
          {rules.map((r, i) => (
            <div class="row">
              <Field label={`Method ${i + 1}`}>
                <select value={r.method} onChange={(ev) => setRule(i, { method: ev.currentTarget.value })}>
                  {METHODS.map((m) => (
                    <option value={m}>{m === "*" ? "Any" : m}</option>
                  ))}
                </select>
              </Field>
              <Field label={`Path prefix ${i + 1}`}>
                <input
                  required
                  value={r.pathPrefix}
                  onInput={(ev) => setRule(i, { pathPrefix: ev.currentTarget.value })}
                />
              </Field>
              <Field label={`Permission ${i + 1}`}>
                <select
                  required
                  value={r.permission}
                  onChange={(ev) => setRule(i, { permission: ev.currentTarget.value })}
                >
                  <option value="">Choose…</option>
                  {permissions.map((p) => (
                    <option value={p.name}>{p.name}</option>
                  ))}
                </select>
              </Field>
              <button
                type="button"
                class="inline"
                aria-label={`Remove rule ${i + 1}`}
                disabled={rules.length === 1}
                onClick={() => setRules(rules.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </div>
          ))}
          <button
            type="button"
            onClick={() => setRules([...rules, { method: "GET", pathPrefix: "/", permission: "" }])}
          >
            Add rule
          </button>
          {ruleErrors.map(([f, text]) => (
            <p class="err">
              {f}: {text}
            </p>
          ))}
        </fieldset>
        <Err text={form.error || catalog.error} />
        <footer>
          <button type="button" onClick={() => props.done(false)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy}>
            {e ? "Save" : "Create"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
