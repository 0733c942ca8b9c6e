// One token: what it can do, where it was used, and every action on it (each confirmed first).
import { useState } from "preact/hooks";
import { api, type Scope, type Token, type TokenAction, type WithSecret } from "../client";
import { absolute } from "../format";
import { go } from "../router";
import { canManage, session } from "../session";
import { useStore } from "../store";
import { Badge, confirmAction, Err, formDialog, Loading, message, Page, Time, useLoad } from "../ui";
import { pickProjects } from "./checklist";
import { showSecret } from "./secret";
import { kindLabel, tokenHref } from "./tokens";

const listHref = (scope: Scope) => (scope === "me" ? "/me/tokens" : `/orgs/${scope.org}/tokens`);

export function TokenPage(props: { scope: Scope; id: string }) {
  const { scope, id } = props;
  const me = useStore(session)!;
  const page = useLoad(() => api.token(scope, id), [scope === "me" ? "me" : scope.org, id]);
  const [projectError, setProjectError] = useState("");
  const t = page.data;
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
  const act = (action: TokenAction, title: string, body: string, danger = false) =>
    confirmAction({
      title,
      body,
      action: action[0]!.toUpperCase() + action.slice(1),
      danger,
      run: async () => {
        const r = await api.tokenAction(scope, id, action);
        if ("secret" in r) {
          page.set(r.token);
          await showSecret(r);
        } else page.set(r);
      },
    });

  const copy = () => {
    let made: WithSecret | undefined;
    return formDialog({
      title: "Copy token",
      action: "Copy",
      intro: <p>A new token with this one's projects, permissions and expiry, and its own secret.</p>,
      fields: [{ name: "name", label: "Name of the copy", required: true, max: 100, value: `${t.name} (copy)` }],
      run: async (v) => {
        made = await api.copyToken(scope, id, { name: v.name! });
      },
    }).then(async (ok) => {
      if (!ok || !made) return;
      await showSecret(made);
      go(tokenHref(scope, made.token.id));
    });
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
    });

  const editProjects = async () => {
    setProjectError("");
    try {
      const all = await api.projects(t.org.slug);
      const keys = await pickProjects(
        all.items.filter((p) => t.kind !== "group" || p.group?.id === t.group?.id).map((p) => [p.key, p.name]),
        t.projects === "*" ? [] : t.projects,
        "Use",
      );
      if (keys) page.set(await api.editToken(scope, id, { projects: keys }));
    } catch (e) {
      setProjectError(message(e));
    }
  };

  const remove = () =>
    confirmAction({
      title: "Delete token?",
      body: "It is revoked and its record erased now. The audit log keeps a trace. This cannot be undone.",
      action: "Delete",
      danger: true,
      run: () => api.deleteToken(scope, id),
    }).then((done) => done && go(listHref(scope)));

  return (
    <Page
      title={t.name}
      sub={
        <>
          <Badge status={t.status} /> <code>{t.hint}</code> · {kindLabel(t)}
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
            {live && t.status !== "disabled" && (
              <button
                type="button"
                onClick={() =>
                  act(
                    "regenerate",
                    "Regenerate token?",
                    "The current secret stops working at once; services using it need the new one. Projects, permissions and expiry stay the same.",
                  )
                }
              >
                Regenerate
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
      <dl class="facts">
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
        <dt>Expires</dt>
        <dd>{t.expiresAt ? <Stamp iso={t.expiresAt} /> : "Never"}</dd>
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
    </Page>
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
