import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, hooks } from "./api";
import { api } from "./client";
import { safeNext } from "./format";
import { PasswordInput } from "./password";
import { go, match, route } from "./router";
import { Login, Setup } from "./screens/auth";
import { TokenPage } from "./screens/token";
import { TokenList } from "./screens/tokens";
import { isOrgAdmin, managesTokens, orgsOf, session } from "./session";
import { useStore } from "./store";
import {
  closeDialogs,
  Dialog,
  DialogHost,
  Err,
  Field,
  Loading,
  lazy,
  message,
  open,
  Page,
  useForm,
  useLoad,
} from "./ui";

// Screens most visits never open load on demand, each its own chunk (scripts/build-ui.mjs holds the
// first screen to 25 KB gzip and each chunk to 10 KB).
const Account = lazy(() => import("./screens/account").then((m) => m.Account));
const Audit = lazy(() => import("./screens/audit").then((m) => m.Audit));
const Catalog = lazy(() => import("./screens/catalog").then((m) => m.Catalog));
const Invite = lazy(() => import("./screens/links").then((m) => m.Invite));
const Reset = lazy(() => import("./screens/links").then((m) => m.Reset));
const Members = lazy(() => import("./screens/members").then((m) => m.Members));
const Groups = lazy(() => import("./screens/org").then((m) => m.Groups));
const Projects = lazy(() => import("./screens/org").then((m) => m.Projects));
const Orgs = lazy(() => import("./screens/orgs").then((m) => m.Orgs));
const Overview = lazy(() => import("./screens/overview").then((m) => m.Overview));
const Settings = lazy(() => import("./screens/orgs").then((m) => m.Settings));
const Upstreams = lazy(() => import("./screens/upstreams").then((m) => m.Upstreams));
const Jobs = lazy(() => import("./screens/owner").then((m) => m.Jobs));
const Leaks = lazy(() => import("./screens/owner").then((m) => m.Leaks));

type Screen = (p: Record<string, string>) => preact.JSX.Element;

/** `/orgs/acme` opens the organization's first page the person may see. */
function OrgHome(props: { org: string }) {
  const me = useStore(session)!;
  useEffect(() => go(`/orgs/${props.org}/${managesTokens(me, props.org) ? "tokens" : "projects"}`, true), [props.org]);
  return <Loading />;
}

const ROUTES: [string, Screen][] = [
  ["/orgs", () => <Orgs />],
  ["/orgs/:org", (p) => <OrgHome org={p.org!} />],
  ["/orgs/:org/overview", (p) => <Overview org={p.org!} />],
  ["/orgs/:org/tokens", (p) => <TokenList scope={{ org: p.org! }} />],
  ["/orgs/:org/tokens/:id", (p) => <TokenPage scope={{ org: p.org! }} id={p.id!} />],
  ["/orgs/:org/groups", (p) => <Groups org={p.org!} />],
  ["/orgs/:org/groups/:group", (p) => <TokenList scope={{ org: p.org! }} group={p.group!} />],
  ["/orgs/:org/projects", (p) => <Projects org={p.org!} />],
  ["/orgs/:org/members", (p) => <Members org={p.org!} />],
  ["/orgs/:org/audit", (p) => <Audit org={p.org!} />],
  ["/orgs/:org/upstreams", (p) => <Upstreams org={p.org!} />],
  ["/orgs/:org/settings", (p) => <Settings org={p.org!} />],
  ["/me/tokens", () => <TokenList scope="me" />],
  ["/me/tokens/:id", (p) => <TokenPage scope="me" id={p.id!} />],
  ["/permissions", () => <Catalog />],
  ["/account", () => <Account />],
  ["/instance/audit", () => <Audit />],
  ["/instance/jobs", () => <Jobs />],
  ["/instance/leaks", () => <Leaks />],
];

let lastOrg = "";

/**
 * The page a one-time link opens (`/invite#<secret>`, `/reset#<secret>`), which works signed out too.
 * The secret rides in the fragment, which no request carries, so no log on the way holds it; links
 * made before put it in the path (`/invite/<secret>`), and still open.
 */
function linkPage(path: string): { kind: "invite" | "reset"; secret: string } | null {
  const match = /^\/(invite|reset)(?:\/([^/]+))?$/.exec(path);
  if (!match) return null;
  const secret = match[2] === undefined ? location.hash.slice(1) : decodeURIComponent(match[2]);
  return secret === "" ? null : { kind: match[1] as "invite" | "reset", secret };
}

/** Where a person starts: the first organization whose tokens they manage, else their own tokens. */
function home(): string {
  const me = session.get();
  const org = me && [...orgsOf(me).keys()].find((o) => managesTokens(me, o));
  return org ? `/orgs/${org}/tokens` : "/me/tokens";
}

async function boot() {
  try {
    if ((await api.setupNeeded()).needed) {
      session.set(null);
      // The fragment may carry the setup token (`npm run dev` prints such a link): it comes along.
      if (location.pathname !== "/setup") go(`/setup${location.hash}`, true);
      return;
    }
    session.set(await api.me());
    // `next` in the fragment carries a page with a secret in its own fragment (an invitation), kept off the server.
    const asked = () =>
      new URLSearchParams(location.search).get("next") ?? new URLSearchParams(location.hash.slice(1)).get("next");
    const next = location.pathname === "/login" ? safeNext(asked()) : "/";
    if (["/", "/login", "/setup"].includes(location.pathname)) go(next === "/" ? home() : next, true);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    session.set(null);
    if (location.pathname !== "/login" && !linkPage(location.pathname))
      go(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, true);
  }
}

/** Asks for the password when the API wants a recent confirmation; true once confirmed. */
hooks.sudo = () => open<boolean>((done) => <SudoPrompt done={done} />);
hooks.twoFactorRequired = () => go("/account?required=1");
hooks.signedOut = () => {
  if (!session.get()) return;
  closeDialogs();
  session.set(null);
  // Sign-in says why it is asked for, and goes back to this page after.
  go(`/login?ended=1&next=${encodeURIComponent(location.pathname + location.search)}`, true);
};

function SudoPrompt(props: { done: (ok: boolean) => void }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const twoFactor = session.get()?.twoFactor.enabled;
  const form = useForm(async () => {
    await api.confirm(password, twoFactor ? code : undefined);
    props.done(true);
  });
  return (
    <Dialog title="Confirm your password" onClose={() => props.done(false)}>
      <form onSubmit={form.onSubmit} onInput={form.onEdit}>
        <p>Creating, changing or removing tokens needs your password. Tessera will not ask again for 5 minutes.</p>
        <Field label="Password" name="password" error={form.fields.password || form.error}>
          <PasswordInput autofocus value={password} onValue={setPassword} />
        </Field>
        {twoFactor && (
          <Field label="Authentication code" name="code" error={form.fields.code} hint="Or a recovery code.">
            <input autocomplete="one-time-code" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
        )}
        <footer>
          <button type="button" onClick={() => props.done(false)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy}>
            Confirm
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

function Shell(props: { path: string }) {
  const me = useStore(session)!;
  // Narrow screens: the navigation folds behind a menu button (CSS shows it there only); a page change folds it again.
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [props.path]);
  const orgs = orgsOf(me);
  const org = props.path.match(/^\/orgs\/([^/]+)/)?.[1] ?? (orgs.has(lastOrg) ? lastOrg : [...orgs.keys()][0]);
  // The owner may open any organization, member or not: the switcher lists every one that exists
  // (an address naming none, /orgs/typo, adds nothing to it).
  const every = useLoad(() => (me.user.isOwner ? api.orgs() : Promise.resolve(null)), [me.user.id]);
  for (const o of every.data?.items ?? []) if (!orgs.has(o.slug)) orgs.set(o.slug, o.name);
  if (org) lastOrg = org;
  let screen: preact.JSX.Element | null = null;
  for (const [pattern, Screen] of ROUTES) {
    const params = match(pattern, props.path);
    if (params) screen = Screen(params);
  }
  const section = props.path.match(/^\/orgs\/[^/]+\/([a-z]+)/)?.[1] ?? "tokens";
  const link = (href: string, text: string) => (
    <a
      href={href}
      aria-current={props.path === href || (href !== "/orgs" && props.path.startsWith(`${href}/`)) ? "page" : undefined}
    >
      {text}
    </a>
  );
  const logout = async () => {
    await api.logout().catch(() => {});
    session.set(null);
    go("/login");
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <button
          type="button"
          class="menu"
          aria-expanded={menu}
          aria-controls="console-nav"
          onClick={() => setMenu(!menu)}
        >
          Menu
        </button>
        <a class="brand" href={home()}>
          Tessera
        </a>
        <span class="muted">{me.user.email}</span>
        <button type="button" onClick={logout}>
          Sign out
        </button>
      </header>
      <div class="layout">
        <nav id="console-nav" aria-label="Console" class={menu ? undefined : "closed"}>
          {org && (
            <>
              {orgs.size > 1 || me.user.isOwner ? (
                <Field label="Organization">
                  <select
                    value={org}
                    onChange={(e) => go(`/orgs/${e.currentTarget.value}/${section === "groups" ? "groups" : section}`)}
                  >
                    {[...orgs].map(([slug, name]) => (
                      <option value={slug}>{name}</option>
                    ))}
                  </select>
                </Field>
              ) : (
                <p class="org">{orgs.get(org) ?? org}</p>
              )}
              {managesTokens(me, org) && link(`/orgs/${org}/overview`, "Overview")}
              {managesTokens(me, org) && link(`/orgs/${org}/tokens`, "Tokens")}
              {link(`/orgs/${org}/groups`, "Groups")}
              {link(`/orgs/${org}/projects`, "Projects")}
              {link(`/orgs/${org}/members`, "Members")}
              {isOrgAdmin(me, org) && link(`/orgs/${org}/upstreams`, "Upstreams")}
              {isOrgAdmin(me, org) && link(`/orgs/${org}/audit`, "Audit log")}
              {isOrgAdmin(me, org) && link(`/orgs/${org}/settings`, "Settings")}
              <hr />
            </>
          )}
          {link("/me/tokens", "My tokens")}
          {link("/permissions", "Permissions")}
          {link("/orgs", "Organizations")}
          {link("/account", "Your account")}
          {me.user.isOwner && (
            <>
              <hr />
              {link("/instance/audit", "Instance events")}
              {link("/instance/jobs", "Cron jobs")}
              {link("/instance/leaks", "Leak reports")}
            </>
          )}
        </nav>
        <main id="main">
          {screen ?? (
            <Page title="Nothing here">
              <p>
                This address does not lead anywhere. <a href={home()}>Go to your tokens</a>.
              </p>
            </Page>
          )}
        </main>
      </div>
    </>
  );
}

function App() {
  const me = useStore(session);
  const loc = useStore(route);
  const [error, setError] = useState("");
  useEffect(() => {
    boot().catch((e) => setError(message(e)));
  }, []);
  let body: preact.JSX.Element;
  const link = linkPage(loc.path);
  if (error) body = <Err text={`${error} Reload the page to try again.`} />;
  else if (me === undefined) body = <Loading />;
  else if (link) {
    body =
      link.kind === "invite" ? <Invite secret={link.secret} me={me} onDone={boot} /> : <Reset secret={link.secret} />;
  } else if (loc.path === "/setup") body = <Setup onDone={boot} />;
  else if (!me) body = <Login onDone={boot} />;
  else body = <Shell path={loc.path} />;
  return (
    <>
      {body}
      <DialogHost />
    </>
  );
}

render(<App />, document.getElementById("app")!);
