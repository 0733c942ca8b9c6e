// Every management API call the console makes (SPEC.md 5 route table).
import { hc } from "hono/client";
import type { UserView } from "../../worker/accounts/users";
import type { MyMembership } from "../../worker/accounts/memberships";
import type { AppType } from "../../worker/index";
import type { TokenView } from "../../worker/tokens/views";
import { ApiError, call } from "./api";

const client = hc<AppType>(location.origin);

export type Token = TokenView;
export type Role = MyMembership["role"];
export interface Ref {
  id: string;
  slug: string;
  name: string;
}
export interface Me {
  user: UserView;
  memberships: MyMembership[];
}
export interface Org extends Ref {
  webhook?: { url: string | null } | null;
}
export interface Project {
  id: string;
  key: string;
  name: string;
  group: Ref | null;
}
export interface Member {
  id: string;
  user: { id: string; email: string; name: string };
  role: Role;
  group: Ref | null;
  permissions: string[] | null;
}
export interface AuditEvent {
  id: number | string;
  at: string;
  actor: { type: string; id: string | null; label?: string };
  action: string;
  target: { type: string | null; id: string | null; label?: string } | null;
  ip: string | null;
  detail: Record<string, unknown>;
}
export interface Permission {
  name: string;
  description: string;
}
export interface PermissionSet {
  id: string;
  name: string;
  description: string;
  permissions: string[];
}
export interface Page<T> {
  items: T[];
  next: string | null;
}
export interface WithSecret {
  token: Token;
  secret: string;
}
export interface NewToken {
  kind?: "org" | "group";
  group?: string;
  org?: string;
  name: string;
  description: string;
  expiresAt: string | null;
  projects: "*" | string[];
  permissions: string[];
  permissionSet?: string;
  admin?: boolean;
}

/** Where tokens live: an organization's (org and group tokens) or the caller's own. */
export type Scope = { org: string } | "me";

const enc = encodeURIComponent;
const send = <T,>(method: string, path: string, body?: unknown, prompts = true) =>
  call<Response, T>(
    () =>
    fetch(path, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    prompts,
  );
const get = <T,>(path: string) => send<T>("GET", path);
const qs = (q: Record<string, string | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
};
const tokensPath = (s: Scope) => (s === "me" ? "/api/me/tokens" : `/api/orgs/${enc(s.org)}/tokens`);
const orgPath = (org: string) => `/api/orgs/${enc(org)}`;

export type TokenAction = "regenerate" | "copy" | "disable" | "enable" | "revoke";
export type OrgResource = "groups" | "projects" | "members";

export const api = {
  setupNeeded: () => call(() => client.api.setup.$get()),
  setup: (json: { email: string; password: string; org: { slug: string; name: string } }) => call(() => client.api.setup.$post({ json })),
  login: (json: { email: string; password: string }) => call(() => client.api.session.$post({ json }), false),
  logout: () => call(() => client.api.session.$delete()),
  confirm: (password: string) => call(() => client.api.session.confirm.$post({ json: { password } }), false),
  async me(): Promise<Me> {
    const me = await call(() => client.api.me.$get());
    // Admin tokens use the API from scripts; the console is for people.
    if (me.type !== "user") throw new ApiError(401, "unauthenticated", "Sign in with your email and password.");
    return me;
  },

  orgs: () => get<Page<Org>>("/api/orgs"),
  createOrg: (b: { slug: string; name: string }) => send<Org>("POST", "/api/orgs", b),
  org: (org: string) => get<Org>(orgPath(org)),
  patchOrg: (org: string, b: { name?: string; webhook?: { url: string; secret?: string } | null }) => send<Org>("PATCH", orgPath(org), b),

  tokens: (s: Scope, q: { status?: string; kind?: string; group?: string; q?: string; cursor?: string }) =>
    get<Page<Token>>(tokensPath(s) + qs(q)),
  token: (s: Scope, id: string) => get<Token>(`${tokensPath(s)}/${enc(id)}`),
  createToken: (s: Scope, b: NewToken) => send<WithSecret>("POST", tokensPath(s), b),
  editToken: (s: Scope, id: string, b: { name?: string; description?: string; projects?: "*" | string[] }) =>
    send<Token>("PATCH", `${tokensPath(s)}/${enc(id)}`, b),
  tokenAction: (s: Scope, id: string, action: TokenAction, body: unknown = {}) =>
    send<Token | WithSecret>("POST", `${tokensPath(s)}/${enc(id)}/${action}`, body),
  deleteToken: (s: Scope, id: string) => send<unknown>("DELETE", `${tokensPath(s)}/${enc(id)}`),
  revokeMany: (s: Scope, ids: string[]) => send<unknown>("POST", `${tokensPath(s)}/revoke`, { ids }),

  /** Every record, following the cursor: pickers need all of them, not the first page. */
  async list<T>(org: string, what: OrgResource): Promise<Page<T>> {
    const items: T[] = [];
    let next: string | null = null;
    do {
      const page: Page<T> = await get(`${orgPath(org)}/${what}${qs({ limit: "100", cursor: next ?? undefined })}`);
      items.push(...page.items);
      next = page.next;
    } while (next);
    return { items, next };
  },
  create: <T,>(org: string, what: OrgResource, b: unknown) => send<T>("POST", `${orgPath(org)}/${what}`, b),
  patch: <T,>(org: string, what: OrgResource, id: string, b: unknown) => send<T>("PATCH", `${orgPath(org)}/${what}/${enc(id)}`, b),
  remove: (org: string, what: OrgResource, id: string) => send<unknown>("DELETE", `${orgPath(org)}/${what}/${enc(id)}`),

  audit: (org: string, cursor?: string) => get<Page<AuditEvent>>(`${orgPath(org)}/audit${qs({ cursor })}`),
  permissions: () => get<Page<Permission>>("/api/permissions"),
  createPermission: (b: Permission) => send<Permission>("POST", "/api/permissions", b),
  permissionSets: () => get<Page<PermissionSet>>("/api/permission-sets"),
  createPermissionSet: (b: { name: string; description: string; permissions: string[] }) =>
    send<PermissionSet>("POST", "/api/permission-sets", b),
};
