// Your account: the password, your sessions, two-factor sign-in (docs/API.md "Your account").
// Every change to the second factor asks for the password again: a session alone cannot make it.
import type { InferResponseType } from "hono/client";
import { useState } from "preact/hooks";
import { call } from "../api";
import { api, routes } from "../client";
import { PASSWORD_RULE, PasswordInput } from "../password";
import { QrCode } from "../qr";
import { session } from "../session";
import { useStore } from "../store";
import {
  Dialog,
  Err,
  Field,
  type FieldSpec,
  formDialog,
  Loading,
  open,
  Page,
  Time,
  toast,
  useForm,
  useLoad,
} from "../ui";

const me = routes.me;
type SessionItem = InferResponseType<typeof me.sessions.$get, 200>["items"][number];
type Enrollment = InferResponseType<(typeof me)["two-factor"]["setup"]["$post"], 201>;

const refreshMe = async () => session.set(await api.me());

function RecoveryCodes(props: { codes: string[]; done: () => void }) {
  const text = `${props.codes.join("\n")}\n`;
  const [note, setNote] = useState("");
  const copy = async () => {
    await navigator.clipboard.writeText(text).catch(() => {});
    setNote("Copied to the clipboard.");
  };
  const download = () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    a.download = "tessera-recovery-codes.txt";
    a.click();
    setNote("Downloaded.");
  };
  return (
    <Dialog title="Your recovery codes" onClose={props.done}>
      <p class="warn">
        <strong>Save them now: you will not see them again.</strong> Each works once, in place of a code from your app,
        if you lose your phone.
      </p>
      <ul class="mono" aria-label="Recovery codes">
        {props.codes.map((c) => (
          <li>{c}</li>
        ))}
      </ul>
      <div class="row">
        <button type="button" class="primary" autofocus onClick={copy}>
          Copy
        </button>
        <button type="button" onClick={download}>
          Download
        </button>
        <span role="status" class="muted">
          {note}
        </span>
      </div>
      <footer>
        <button type="button" onClick={props.done}>
          Done
        </button>
      </footer>
    </Dialog>
  );
}

const showCodes = (codes: string[]) => open<void>((done) => <RecoveryCodes codes={codes} done={done} />);

function PasswordForm(props: { onChanged: () => void }) {
  const twoFactor = useStore(session)!.twoFactor.enabled;
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [code, setCode] = useState("");
  const form = useForm(async () => {
    const json = { currentPassword: current, newPassword: next, ...(twoFactor && { code }) };
    await call(() => me.password.$post({ json }), false);
    setCurrent("");
    setNext("");
    setCode("");
    toast("Password changed. Your other sessions were signed out.");
    props.onChanged();
  });
  return (
    <form class="panel" onSubmit={form.onSubmit} onInput={form.onEdit}>
      <h2>Password</h2>
      <Field label="Current password" name="currentPassword" error={form.fields.currentPassword}>
        <PasswordInput value={current} onValue={setCurrent} />
      </Field>
      <Field
        label="New password"
        name="newPassword"
        error={form.fields.newPassword}
        hint={`${PASSWORD_RULE} Every other session is signed out; this one stays.`}
      >
        <PasswordInput choosing value={next} onValue={setNext} />
      </Field>
      {twoFactor && (
        <Field label="Code from your app, or a recovery code" name="code" error={form.fields.code}>
          <input
            autocomplete="one-time-code"
            inputMode="numeric"
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </Field>
      )}
      <Err text={form.error} />
      <button type="submit" class="primary" disabled={form.busy}>
        Change password
      </button>
    </form>
  );
}

function Sessions(props: { list: ReturnType<typeof useLoad<SessionItem[]>> }) {
  const { list } = props;
  const end = async (s: SessionItem) => {
    await call(() => me.sessions[":id"].$delete({ param: { id: s.id } }));
    toast("Session signed out.");
    list.reload();
  };
  const endOthers = async () => {
    const { ended } = await call(() => me.sessions["sign-out-others"].$post());
    toast(ended === 1 ? "1 session signed out." : `${ended} sessions signed out.`);
    list.reload();
  };
  const items = list.data ?? [];
  return (
    <section class="panel" aria-labelledby="sessions">
      <h2 id="sessions">Sessions</h2>
      {list.error && <Err text={list.error} />}
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Device</th>
              <th>Address</th>
              <th>Signed in</th>
              <th>Last activity</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr>
                <td>{s.device ?? "Unknown device"}</td>
                <td class="mono">{s.ip ?? "—"}</td>
                <td>
                  <Time iso={s.createdAt} />
                </td>
                <td>
                  <Time iso={s.lastSeenAt} />
                </td>
                <td>
                  {s.current ? (
                    <span class="muted">This session</span>
                  ) : (
                    <button
                      type="button"
                      onClick={() => end(s)}
                      aria-label={`Sign out ${s.device ?? "session"} ${s.ip ?? ""}`}
                    >
                      Sign out
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items.some((s) => !s.current) && (
        <button type="button" class="danger" onClick={endOthers}>
          Sign out all other sessions
        </button>
      )}
    </section>
  );
}

/** Turning it on: the password, then the secret for the app, then one code from it. */
function Enroll() {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [shown, setShown] = useState<Enrollment | null>(null);
  const form = useForm(async () => {
    if (!shown) {
      setShown(await call(() => me["two-factor"].setup.$post({ json: { password } }), false));
      return;
    }
    const { recoveryCodes } = await call(() => me["two-factor"].enable.$post({ json: { password, code } }), false);
    await showCodes(recoveryCodes);
    await refreshMe();
  });
  return (
    <form onSubmit={form.onSubmit} onInput={form.onEdit}>
      <Field label="Password" name="password" error={form.fields.password}>
        <PasswordInput readOnly={!!shown} value={password} onValue={setPassword} />
      </Field>
      {shown && (
        <>
          <p>
            Add Tessera to your authenticator app: scan the code with it, open the link below on your phone, or type the
            key into the app (time-based, SHA-1, 6 digits, 30 seconds).
          </p>
          <QrCode text={shown.uri} label="QR code for your authenticator app" />
          <Field label="Setup key">
            <input class="mono" readOnly value={shown.secret.replace(/(.{4})(?!$)/g, "$1 ")} />
          </Field>
          <p>
            <a href={shown.uri} class="mono" style={{ overflowWrap: "anywhere" }}>
              {shown.uri}
            </a>
          </p>
          <Field label="Code from the app" name="code" error={form.fields.code}>
            <input
              autocomplete="one-time-code"
              inputMode="numeric"
              required
              autofocus
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </Field>
        </>
      )}
      <Err text={form.error} />
      <button type="submit" class="primary" disabled={form.busy}>
        {shown ? "Turn on" : "Set up two-factor sign-in"}
      </button>
    </form>
  );
}

/** What changing an enrolled second factor asks for: the password and a code (or a recovery code). */
const passwordAndCode: FieldSpec[] = [
  { name: "password", label: "Password", type: "password", required: true },
  { name: "code", label: "Code from your app, or a recovery code", required: true },
];

function TwoFactor() {
  const who = useStore(session)!;
  const state = who.twoFactor;
  const regenerate = () =>
    formDialog({
      title: "Regenerate recovery codes",
      action: "Regenerate",
      intro: <p>Your current recovery codes stop working.</p>,
      fields: passwordAndCode,
      run: async (v) => {
        const json = { password: v.password!, code: v.code! };
        const { recoveryCodes } = await call(() => me["two-factor"]["recovery-codes"].$post({ json }), false);
        await showCodes(recoveryCodes);
        await refreshMe();
      },
    });
  const disable = () =>
    formDialog({
      title: "Turn off two-factor sign-in",
      action: "Turn off",
      danger: true,
      intro: <p>Signing in will ask for your password only.</p>,
      fields: passwordAndCode,
      run: async (v) => {
        await call(() => me["two-factor"].disable.$post({ json: { password: v.password!, code: v.code! } }), false);
        toast("Two-factor sign-in is off.");
        await refreshMe();
      },
    });
  return (
    <section class="panel" aria-labelledby="two-factor">
      <h2 id="two-factor">Two-factor sign-in</h2>
      {state.enabled ? (
        <>
          <p>
            <strong>On.</strong> Signing in and confirming your password also ask for a code from your authenticator
            app. {state.recoveryCodesLeft} recovery codes left.
          </p>
          <div class="row">
            <button type="button" onClick={regenerate}>
              Regenerate recovery codes
            </button>
            <button type="button" class="danger" onClick={disable}>
              Turn off
            </button>
          </div>
        </>
      ) : (
        <>
          <p>Off. With it on, signing in asks for a code from an authenticator app after your password.</p>
          <Enroll />
        </>
      )}
    </section>
  );
}

export function Account() {
  const who = useStore(session)!;
  const list = useLoad(async () => (await call(() => me.sessions.$get())).items, []);
  const required = new URLSearchParams(location.search).has("required");
  return (
    <Page title="Your account" sub={who.user.email}>
      {required && !who.twoFactor.enabled && (
        <p class="warn" role="alert">
          An organization you administer requires two-factor sign-in. Turn it on below to manage it again.
        </p>
      )}
      <TwoFactor />
      <PasswordForm onChanged={list.reload} />
      <Sessions list={list} />
    </Page>
  );
}
