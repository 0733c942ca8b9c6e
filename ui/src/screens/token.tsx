// One token: what it can do, where it was used, and every action on it (each confirmed first).
import { useState } from "preact/hooks";
import { api, type Scope, type Token, type TokenAction } from "../client";
import { absolute, LATEST_EXPIRY_MS, tooLate } from "../format";
import { UnusedBadge, useUnusedDaysLeft } from "../purge";
import { go } from "../router";
import { canManage, session } from "../session";
import { useStore } from "../store";
import {
  Badge,
  confirmAction,
  Dialog,
  Err,
  Field,
  formDialog,
  invalid,
  Loading,
  lazy,
  message,
  open,
  Page,
  Time,
  toast,
  useForm,
  useLoad,
} from "../ui";
import { useAllowlist } from "./allowlist";
import { pickProjects } from "./checklist";
import { useExpiry } from "./expiry";
import { showSecret } from "./secret";
import { copyToken } from "./token-dialogs";
import { TokenTabs } from "./token-tabs";
import { kindLabel, tokenHref } from "./tokens";

// The usage chart loads on demand (its own chunk), after the token's facts.
const Usage = lazy(() => import("./usage").then((m) => m.Usage));

const listHref = (scope: Scope) => (scope === "me" ? "/me/tokens" : `/orgs/${scope.org}/tokens`);

export function TokenPage(props: { scope: Scope; id: string }) {
  const { scope, id } = props;
  const me = useStore(session)!;
  const page = useLoad(() => api.token(scope, id), [scope === "me" ? "me" : scope.org, id]);
  const [projectError, setProjectError] = useState("");
  const t = page.data;
  const unusedLeft = useUnusedDaysLeft(t);
  if (page.error) {
    return (
      <Page title="Token not found">
        <Err text={page.error} />
        <a href={listHref(scope)}>Back to the tokens</a>
      </Page>
    );
  }
  if (!t) return <Loading />;

  const manage = canManage(me, t);
  const live = t.status !== "revoked" && t.status !== "expired";
  const DONE: Record<TokenAction, string> = {
    disable: "Token disabled.",
    enable: "Token enabled.",
    revoke: "Token revoked.",
    keep: "Kept: it counts as used today.",
  };
  const act = (action: TokenAction, title: string, body: string, danger = false) =>
    confirmAction({
      title,
      body,
      action: action[0]!.toUpperCase() + action.slice(1),
      danger,
      run: async () => page.set((await api.tokenAction(scope, id, action)) as Token),
    }).then((done) => done && toast(DONE[action]));

  const regenerate = async () => {
    const made = await open<Awaited<ReturnType<typeof api.regenerateToken>> | null>((done) => (
      <RegenerateDialog scope={scope} token={t} done={done} />
    ));
    if (!made) return;
    page.set(made.token);
    await showSecret(made);
  };

  const copy = async () => {
    const made = await copyToken(scope, me, t);
    if (!made) return;
    await showSecret(made);
    go(tokenHref(scope, made.token.id));
  };

  const edit = () =>
    formDialog({
      title: "Edit token",
      action: "Save",
      fields: [
        { name: "name", label: "Name", required: true, max: 100, value: t.name },
        { name: "description", label: "Description", type: "textarea", max: 500, value: t.description },
      ],
      run: async (v) => page.set(await api.editToken(scope, id, { name: v.name!, description: v.description! })),
    }).then((done) => done && toast("Changes saved."));

  const editProjects = async () => {
    setProjectError("");
    try {
      const all = await api.projects(t.org.slug);
      const keys = await pickProjects(
        all.items.filter((p) => t.kind !== "group" || p.group?.id === t.group?.id).map((p) => [p.key, p.name]),
        t.projects === "*" ? [] : t.projects,
        "Use",
      );
      if (keys) {
        page.set(await api.editToken(scope, id, { projects: keys }));
        toast("Projects saved.");
      }
    } catch (e) {
      setProjectError(message(e));
    }
  };

  const editAddresses = async () => {
    const saved = await open<Token | null>((done) => <AllowlistDialog scope={scope} token={t} done={done} />);
    if (!saved) return;
    page.set(saved);
    toast("Allowed addresses saved.");
  };

  const endGrace = () =>
    confirmAction({
      title: "End the grace period now?",
      body: "The old secret stops working at once here and everywhere within a minute. Only the new secret works after this.",
      action: "End grace now",
      danger: true,
      run: async () => page.set(await api.endGrace(scope, id)),
    }).then((done) => done && toast("The old secret no longer works."));

  const remove = () =>
    confirmAction({
      title: "Delete token?",
      body: "It is revoked and its record erased now. The audit log keeps a trace. This cannot be undone.",
      action: "Delete",
      danger: true,
      run: () => api.deleteToken(scope, id),
    }).then((done) => {
      if (!done) return;
      toast("Token deleted.");
      go(listHref(scope));
    });

  return (
    <Page
      title={t.name}
      sub={
        <>
          <Badge status={t.status} /> <UnusedBadge t={t} /> <code>{t.hint}</code> · {kindLabel(t)}
        </>
      }
      actions={
        manage && (
          <>
            {live && (
              <button type="button" onClick={edit}>
                Edit
              </button>
            )}
            {unusedLeft !== null && (
              <button
                type="button"
                onClick={() =>
                  act("keep", "Keep this token?", "It counts as used today, so it is not removed for another 60 days.")
                }
              >
                Keep
              </button>
            )}
            {t.status !== "revoked" && t.status !== "disabled" && (
              <button type="button" onClick={regenerate}>
                {t.status === "expired" ? "Renew" : "Regenerate"}
              </button>
            )}
            <button type="button" onClick={copy}>
              Copy
            </button>
            {live &&
              (t.status === "disabled" ? (
                <button
                  type="button"
                  onClick={() => act("enable", "Enable token?", "Requests with this token will be accepted again.")}
                >
                  Enable
                </button>
              ) : (
                <button
                  type="button"
                  onClick={() =>
                    act("disable", "Disable token?", "Requests with this token fail until you enable it again.")
                  }
                >
                  Disable
                </button>
              ))}
            {t.status !== "revoked" && (
              <button
                type="button"
                class="danger"
                onClick={() =>
                  act(
                    "revoke",
                    "Revoke token?",
                    "Requests with it fail at once here and everywhere within a minute. This cannot be undone.",
                    true,
                  )
                }
              >
                Revoke
              </button>
            )}
            <button type="button" class="danger" onClick={remove}>
              Delete
            </button>
          </>
        )
      }
    >
      <p>
        <a href={listHref(scope)}>← All tokens</a>
      </p>
      {t.description && <p>{t.description}</p>}
      <TokenTabs scope={scope} id={t.id} />
      <dl class="facts" id="panel-details">
        <dt>Projects</dt>
        <dd>
          {t.projects === "*"
            ? "All projects, current and future (cannot be narrowed: copy the token to make a narrower one)"
            : t.projects.join(", ") || "None"}
          {manage && live && t.projects !== "*" && (
            <button type="button" class="inline" onClick={editProjects}>
              Edit projects
            </button>
          )}
          <Err text={projectError} />
        </dd>
        <dt>Permissions</dt>
        <dd>
          {t.permissionSet && <strong>{t.permissionSet.name}: </strong>}
          {t.permissions.map((p) => (
            <code class="tag">{p}</code>
          ))}
        </dd>
        <dt>Management API</dt>
        <dd>{t.admin ? "Admin: may manage the organization with its owner's admin rights" : "No access"}</dd>
        <dt>Allowed addresses</dt>
        <dd>
          {t.allowedIps ? t.allowedIps.map((r) => <code class="tag">{r}</code>) : "Any address"}
          {manage && live && (
            <button type="button" class="inline" onClick={editAddresses}>
              Edit addresses
            </button>
          )}
        </dd>
        <dt>Expires</dt>
        <dd>
          {t.expiresAt ? <Stamp iso={t.expiresAt} /> : "Never"}
          {t.expiryCut && t.expiresAt && (
            <span class="tag">
              Cut by policy on {absolute(t.expiresAt)} (its own expiry:{" "}
              {t.ownExpiresAt ? absolute(t.ownExpiresAt) : "never"})
            </span>
          )}
        </dd>
        {t.rotation && (
          <>
            <dt>Old secret</dt>
            <dd data-testid="old-secret">
              Still works until <Stamp iso={t.rotation.oldSecretUntil} />.{" "}
              {t.rotation.oldSecretLastUsedAt ? (
                <>
                  Still in use: last <Time iso={t.rotation.oldSecretLastUsedAt} />
                  {t.rotation.oldSecretLastUsedIps.length > 0 && (
                    <span class="muted"> from {t.rotation.oldSecretLastUsedIps.join(", ")}</span>
                  )}
                </>
              ) : (
                "Not used since the regenerate."
              )}
              {manage && (
                <button type="button" class="inline" onClick={endGrace}>
                  End grace now
                </button>
              )}
            </dd>
          </>
        )}
        <dt>Last used</dt>
        <dd>
          <Time iso={t.lastUsedAt} />
          {t.lastUsedIps.length > 0 && <span class="muted"> from {t.lastUsedIps.join(", ")}</span>}
        </dd>
        <dt>Created</dt>
        <dd>
          <Stamp iso={t.createdAt} /> <span class="muted">by {creator(t, scope, me.user.id)}</span>
        </dd>
        {t.disabledAt && (
          <>
            <dt>Disabled</dt>
            <dd>
              <Stamp iso={t.disabledAt} />
            </dd>
          </>
        )}
        {t.revokedAt && (
          <>
            <dt>Revoked</dt>
            <dd>
              <Stamp iso={t.revokedAt} />
            </dd>
          </>
        )}
      </dl>
      <Usage scope={scope} token={t} />
    </Page>
  );
}

/**
 * Regenerate, with the choice of a new expiry (as GitHub's): keep the current one, or set another
 * (presets, a date, none). An expired token must get a new one: that is its renewal.
 */
function RegenerateDialog(props: {
  scope: Scope;
  token: Token;
  done: (r: Awaited<ReturnType<typeof api.regenerateToken>> | null) => void;
}) {
  const t = props.token;
  const expired = t.status === "expired";
  const [keep, setKeep] = useState(!expired);
  const [grace, setGrace] = useState(0);
  const expiry = useExpiry();
  const form = useForm(async () => {
    if (!keep) {
      if (expiry.expiresAt === undefined) invalid("expiresAt", "Pick a date in the future.");
      if (tooLate(expiry.expiresAt))
        invalid(
          "expiresAt",
          `Pick a date no later than ${absolute(new Date(Date.now() + LATEST_EXPIRY_MS).toISOString())}.`,
        );
    }
    const renew = keep ? {} : { expiresAt: expiry.expiresAt ?? null };
    props.done(await api.regenerateToken(props.scope, t.id, grace > 0 ? { ...renew, graceSeconds: grace } : renew));
  });
  return (
    <Dialog title={expired ? "Renew token" : "Regenerate token"} wide onClose={() => props.done(null)}>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <p>
          Services using the current secret need the new one. Projects and permissions stay the same.
          {!expired && " Keep the current secret working for a while so they can switch without an outage:"}
        </p>
        {!expired && (
          <Field label="The current secret stops working" name="graceSeconds">
            <select value={grace} onChange={(e) => setGrace(Number(e.currentTarget.value))}>
              {GRACE_PRESETS.map(([seconds, label]) => (
                <option value={seconds}>{label}</option>
              ))}
            </select>
          </Field>
        )}
        {!expired && (
          <>
            <label class="check">
              <input type="radio" name="renew" checked={keep} onChange={() => setKeep(true)} /> Keep the expiry (
              {t.expiresAt ? absolute(t.expiresAt) : "never"})
            </label>
            <label class="check">
              <input type="radio" name="renew" checked={!keep} onChange={() => setKeep(false)} /> Set a new expiry
            </label>
          </>
        )}
        {!keep && expiry.fields(form.fields)}
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(null)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy}>
            {form.busy ? "Working…" : expired ? "Renew" : "Regenerate"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

/** How long the replaced secret keeps working (docs/API.md "Regenerate"): 7 days at most. */
const GRACE_PRESETS: [number, string][] = [
  [0, "Now"],
  [3_600, "In 1 hour"],
  [86_400, "In 24 hours"],
  [604_800, "In 7 days"],
];

/** The IP allowlist, edited: the API's refusal of a range shows beside the field. */
function AllowlistDialog(props: { scope: Scope; token: Token; done: (t: Token | null) => void }) {
  const allowlist = useAllowlist(props.token.allowedIps);
  const form = useForm(async () =>
    props.done(await api.editToken(props.scope, props.token.id, { allowedIps: allowlist.ranges() })),
  );
  return (
    <Dialog title="Allowed addresses" onClose={() => props.done(null)}>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <p>Requests with this token from any other address are refused (result 14, ip_not_allowed).</p>
        {allowlist.field(form.fields.allowedIps)}
        <Err text={form.error} />
        <footer>
          <button type="button" onClick={() => props.done(null)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy}>
            {form.busy ? "Saving…" : "Save"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

/** The person (you, or their email), the admin token (linked) or Tessera that made the token. */
function creator(t: Token, scope: Scope, myId: string) {
  const c = t.creator;
  if (c.type === "token" && c.label) return <a href={tokenHref(scope, c.id!)}>{c.label}</a>;
  if (c.type === "user" && c.id === myId) return `${c.label} (you)`;
  return c.label ?? (c.type === "token" ? "a token since deleted" : "an account since deleted");
}

function Stamp(props: { iso: string }) {
  return (
    <>
      {absolute(props.iso)}{" "}
      <span class="muted">
        (<Time iso={props.iso} />)
      </span>
    </>
  );
}
