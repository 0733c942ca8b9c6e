// Organizations (the instance owner creates them) and one organization's settings.
import { useState } from "preact/hooks";
import { api, type Org } from "../client";
import { session } from "../session";
import { useStore } from "../store";
import { Empty, Err, Field, formDialog, Loading, Page, useForm, useLoad } from "../ui";
import { SLUG_HINT } from "./org";
import { TwoFactorPolicy } from "./two-factor-policy";

export function Orgs() {
  const me = useStore(session)!;
  const list = useLoad(api.orgs, []);
  const create = () =>
    formDialog({
      title: "New organization",
      action: "Create",
      fields: [
        { name: "name", label: "Name", required: true, max: 100 },
        { name: "slug", label: "Slug", required: true, max: 64, hint: SLUG_HINT, slugOf: "name" },
      ],
      run: async (v) => {
        await api.createOrg({ name: v.name!, slug: v.slug! });
        session.set(await api.me());
      },
    }).then((ok) => ok && list.reload());
  return (
    <Page
      title="Organizations"
      actions={
        me.user.isOwner && (
          <button type="button" class="primary" onClick={create}>
            New organization
          </button>
        )
      }
    >
      {list.error ? (
        <Err text={list.error} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <Empty title="You belong to no organization yet.">
          <p>Ask an organization's admin to add you as a member.</p>
        </Empty>
      ) : (
        <ul class="cards">
          {list.data.items.map((o) => (
            <li key={o.id}>
              <a href={`/orgs/${o.slug}/tokens`}>{o.name}</a> <code class="muted">{o.slug}</code>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

export function Settings(props: { org: string }) {
  const org = useLoad(() => api.org(props.org), [props.org]);
  return (
    <Page title="Settings">
      {org.error ? (
        <Err text={org.error} />
      ) : !org.data ? (
        <Loading />
      ) : (
        <SettingsForm org={org.data} onSaved={(o) => org.set({ ...org.data!, ...o })} />
      )}
      {org.data && <TwoFactorPolicy org={props.org} />}
    </Page>
  );
}

function SettingsForm(props: { org: Org; onSaved: (o: Org) => void }) {
  const [name, setName] = useState(props.org.name);
  const [url, setUrl] = useState(props.org.webhook?.url ?? "");
  const [secret, setSecret] = useState("");
  // With a secret stored, the URL can change alone: an empty secret field keeps the current one.
  const stored = !!props.org.webhook?.hasSecret;
  const [saved, setSaved] = useState("");
  const general = useForm(async () => {
    props.onSaved(await api.patchOrg(props.org.slug, { name }));
    setSaved("name");
  });
  const hook = useForm(async () => {
    props.onSaved(await api.patchOrg(props.org.slug, { webhook: url ? { url, ...(secret ? { secret } : {}) } : null }));
    setSecret("");
    setSaved("webhook");
  });
  return (
    <>
      <form onSubmit={general.onSubmit} onInput={general.onEdit} onChange={general.onEdit} class="panel">
        <h2>Organization</h2>
        <Field label="Name" name="name" error={general.fields.name}>
          <input
            required
            maxLength={100}
            value={name}
            onInput={(e) => {
              setName(e.currentTarget.value);
              setSaved("");
            }}
          />
        </Field>
        <Err text={general.error} />
        <div class="row">
          <button type="submit" class="primary" disabled={general.busy}>
            Save
          </button>
          <span role="status" class="muted">
            {saved === "name" && "Saved."}
          </span>
        </div>
      </form>
      <form onSubmit={hook.onSubmit} onInput={hook.onEdit} onChange={hook.onEdit} class="panel">
        <h2>Webhook</h2>
        <p class="muted">
          Tessera POSTs expiry notices (7 days and 1 day before) and leak alerts here, signed the Standard Webhooks way:
          verify them with the <code>standardwebhooks</code> library and the secret.
        </p>
        <Field
          label="Webhook URL"
          name="webhook.url"
          error={hook.fields["webhook.url"]}
          hint="https:// only (http:// to localhost in development). Leave empty and save to stop sending."
        >
          <input
            type="url"
            placeholder="https://hooks.example.com/tessera"
            value={url}
            onInput={(e) => {
              setUrl(e.currentTarget.value);
              setSaved("");
            }}
          />
        </Field>
        <Field
          label="Signing secret"
          name="webhook.secret"
          error={hook.fields["webhook.secret"]}
          hint={
            stored
              ? "A secret is stored: leave empty to keep the current secret, or enter a new one (whsec_…)."
              : "whsec_ then the base64 of 24 to 64 random bytes (whsec_$(openssl rand -base64 32)), shared with the receiver. Tessera never shows it again."
          }
        >
          <input
            type="password"
            autocomplete="new-password"
            required={!!url && !stored}
            pattern="whsec_[A-Za-z0-9+/]+={0,2}"
            placeholder={stored ? "unchanged" : undefined}
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </Field>
        <Err text={hook.error} />
        <div class="row">
          <button type="submit" class="primary" disabled={hook.busy}>
            Save webhook
          </button>
          <span role="status" class="muted">
            {saved === "webhook" && "Saved."}
          </span>
        </div>
      </form>
    </>
  );
}
