// The pages a one-time link opens: /invite#<secret> (join an organization) and /reset#<secret>
// (choose a new password). Both work signed out; the secret goes to the API in a body only.
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { api, type InvitationPreview, type Me, type Role } from "../client";
import { PASSWORD_RULE, PasswordInput } from "../password";
import { go } from "../router";
import { Err, Field, Loading, Time, useForm, useLoad } from "../ui";

const ROLE_NAMES: Record<Role, string> = {
  org_member: "member",
  org_admin: "admin",
  group_member: "group member",
  group_admin: "group admin",
};

function Broken(props: { text: string }) {
  return (
    <main class="auth">
      <h1>This link does not work</h1>
      <Err text={props.text} />
      <p>
        <a href="/login">Sign in</a>
      </p>
    </main>
  );
}

/** Joins an organization: signed out, the invitee makes their account; signed in as the invited email, they accept. */
export function Invite(props: { secret: string; me: Me | null; onDone: () => Promise<void> }) {
  const preview = useLoad(() => api.previewInvitation(props.secret), [props.secret]);
  if (preview.error) return <Broken text={preview.error} />;
  if (!preview.data) return <Loading />;
  const p = preview.data;
  const where = p.group ? `${p.org.name}, group ${p.group.name}` : p.org.name;
  return (
    <main class="auth">
      <h1>Join {p.org.name}</h1>
      <p class="muted">
        You are invited to {where} as {ROLE_NAMES[p.role]}, as <strong>{p.email}</strong>. The invitation expires{" "}
        <Time iso={p.expiresAt} />.
      </p>
      {props.me ? (
        <AcceptAs secret={props.secret} me={props.me} preview={p} onDone={props.onDone} />
      ) : (
        <Register secret={props.secret} preview={p} onDone={props.onDone} />
      )}
    </main>
  );
}

function AcceptAs(props: { secret: string; me: Me; preview: InvitationPreview; onDone: () => Promise<void> }) {
  const [signingOut, setSigningOut] = useState(false);
  const form = useForm(async () => {
    await api.acceptInvitation(props.secret);
    go("/", true);
    await props.onDone();
  });
  if (props.me.user.email !== props.preview.email) {
    // The email is what the invitation is bound to: another account cannot take it.
    const signOut = async () => {
      setSigningOut(true);
      await api.logout().catch(() => {});
      location.reload();
    };
    return (
      <>
        <p class="warn">
          You are signed in as <strong>{props.me.user.email}</strong>, but this invitation is for{" "}
          <strong>{props.preview.email}</strong>. Sign out, then open the link again to join as {props.preview.email}.
        </p>
        <button type="button" class="primary" disabled={signingOut} onClick={signOut}>
          Sign out
        </button>
      </>
    );
  }
  return (
    <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
      <Err text={form.error} />
      <button type="submit" class="primary" disabled={form.busy}>
        {form.busy ? "Joining…" : "Accept invitation"}
      </button>
    </form>
  );
}

function Register(props: { secret: string; preview: InvitationPreview; onDone: () => Promise<void> }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [hasAccount, setHasAccount] = useState(false);
  const form = useForm(async () => {
    try {
      // Registering signs the new account in (it sets the session cookie).
      await api.registerInvitation({ secret: props.secret, name, password });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setHasAccount(true);
      throw e;
    }
    go("/", true);
    await props.onDone();
  });
  const here = `/invite#${props.secret}`;
  return (
    <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
      <Field label="Email">
        <input type="email" autocomplete="username" readOnly value={props.preview.email} />
      </Field>
      <Field label="Your name" name="name" error={form.fields.name}>
        <input
          autocomplete="name"
          required
          maxLength={100}
          autofocus
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </Field>
      <Field
        label="Choose a password"
        name="password"
        error={form.fields.password}
        hint={`${PASSWORD_RULE} Only you know it: Tessera keeps a hash.`}
      >
        <PasswordInput choosing value={password} onValue={setPassword} />
      </Field>
      <Err text={form.error} />
      {hasAccount && (
        <p>
          <a href={`/login#next=${encodeURIComponent(here)}`}>Sign in as {props.preview.email}</a>, then accept.
        </p>
      )}
      <button type="submit" class="primary" disabled={form.busy}>
        {form.busy ? "Joining…" : "Create account and join"}
      </button>
    </form>
  );
}

/** Chooses a new password through the link the instance owner issued; every session of the account ends. */
export function Reset(props: { secret: string }) {
  const preview = useLoad(() => api.previewPasswordReset(props.secret), [props.secret]);
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const form = useForm(async () => {
    await api.completePasswordReset({ secret: props.secret, password });
    // The spent secret leaves the address bar (and this history entry); the page stays as it is.
    history.replaceState(null, "", "/login");
    setDone(true);
  });
  if (done) {
    return (
      <main class="auth">
        <h1>Password changed</h1>
        <p role="status">Your new password is set, and every session of your account has ended.</p>
        <p>
          <a href="/login">Sign in</a>
        </p>
      </main>
    );
  }
  if (preview.error) return <Broken text={preview.error} />;
  if (!preview.data) return <Loading />;
  return (
    <main class="auth">
      <h1>Choose a new password</h1>
      <p class="muted">
        For <strong>{preview.data.email}</strong>. The link works once and expires <Time iso={preview.data.expiresAt} />
        .
      </p>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <input type="email" autocomplete="username" hidden readOnly value={preview.data.email} />
        <Field label="New password" name="password" error={form.fields.password} hint={PASSWORD_RULE}>
          <PasswordInput choosing autofocus value={password} onValue={setPassword} />
        </Field>
        <Err text={form.error} />
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Saving…" : "Set password"}
        </button>
      </form>
    </main>
  );
}
