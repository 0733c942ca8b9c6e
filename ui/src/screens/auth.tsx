// First-run setup and sign-in: the only screens shown without a session.
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { api } from "../client";
import { slugify } from "../format";
import { PASSWORD_RULE, PasswordInput } from "../password";
import { Err, Field, useForm } from "../ui";

/**
 * A setup token handed over in the link's fragment (`/setup#token=…`), which never reaches a server
 * or its logs; taken out of the address bar once read.
 */
function tokenFromLink(): string {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

export function Setup(props: { onDone: () => Promise<void> }) {
  const [setupToken, setSetupToken] = useState(tokenFromLink);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [slug, setSlug] = useState<string | null>(null);
  const orgSlug = slug ?? slugify(name);
  const form = useForm(async () => {
    // Setup signs the owner in (it sets the session cookie).
    await api.setup({ email, password, org: { slug: orgSlug, name }, setupToken });
    await props.onDone();
  });
  const f = form.fields;
  return (
    <main class="auth">
      <h1>Welcome to Tessera</h1>
      <p class="muted">
        Create the owner account and your first organization. There is no default password: choose one now.
      </p>
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <Field
          label="Setup token"
          name="setupToken"
          error={f.setupToken}
          hint="This deployment's SETUP_TOKEN secret, so that only you can claim it. Locally, npm run dev prints a link that fills it in."
        >
          <input
            type="password"
            autocomplete="off"
            required
            value={setupToken}
            onInput={(e) => setSetupToken(e.currentTarget.value)}
          />
        </Field>
        <Field label="Your email" name="email" error={f.email}>
          <input
            type="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field
          label="Password"
          name="password"
          error={f.password}
          hint={`${PASSWORD_RULE} You will need it again for every change to a token.`}
        >
          <PasswordInput choosing value={password} onValue={setPassword} />
        </Field>
        <Field label="Organization name" name="org.name name" error={f["org.name"] ?? f.name}>
          <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field
          label="Organization slug"
          name="org.slug slug"
          error={f["org.slug"] ?? f.slug}
          hint={`Used in addresses: /orgs/${orgSlug || "acme"}`}
        >
          <input
            required
            pattern="[a-z0-9][a-z0-9\-]*"
            value={orgSlug}
            onInput={(e) => setSlug(e.currentTarget.value)}
          />
        </Field>
        <Err text={form.error} />
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Creating…" : "Create owner and organization"}
        </button>
      </form>
    </main>
  );
}

export function Login(props: { onDone: () => Promise<void> }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  // Set once the password was right and the account asks for its second factor.
  const [code, setCode] = useState<string | null>(null);
  const form = useForm(async () => {
    try {
      await api.login({ email, password, code: code ?? undefined });
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== "two_factor_code_required") throw e;
      setCode("");
      return;
    }
    await props.onDone();
  });
  const ended = new URLSearchParams(location.search).has("ended");
  return (
    <main class="auth">
      <h1>Sign in to Tessera</h1>
      {ended && (
        <p class="warn" role="alert">
          Your session ended. Sign in again to go back to the page you were on.
        </p>
      )}
      <form onSubmit={form.onSubmit} onInput={form.onEdit} onChange={form.onEdit}>
        <Field label="Email" name="email" error={form.fields.email}>
          <input
            type="email"
            autocomplete="username"
            required
            autofocus
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field label="Password" name="password" error={form.fields.password}>
          <PasswordInput value={password} onValue={setPassword} />
        </Field>
        {code !== null && (
          <Field
            label="Authentication code"
            name="code"
            error={form.fields.code}
            hint="The 6-digit code from your authenticator app, or one of your recovery codes."
          >
            <input
              autocomplete="one-time-code"
              inputMode="numeric"
              required
              autofocus
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </Field>
        )}
        <Err text={form.error} />
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Signing in…" : code !== null ? "Verify" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
