// Every management API call the console makes, through Hono's typed client: request and response
// shapes come from the worker's own routes (`AppType`), so a contract change fails the typecheck.
import { hc } from "hono/client";
import type { MyMembership } from "../../worker/accounts/memberships";
import type { UserView } from "../../worker/accounts/users";
import type { UpstreamRule, UpstreamView } from "../../worker/gateway/upstreams";
import type { AppType } from "../../worker/index";
import type { AuditView } from "../../worker/orgs/audit";
import type { PermissionSetView, PermissionView } from "../../worker/orgs/catalog";
import type { GroupView } from "../../worker/orgs/groups";
import type { InvitationPreview, InvitationView } from "../../worker/orgs/invitations";
import type { MemberView } from "../../worker/orgs/members";
import type { OrgView } from "../../worker/orgs/orgs";
import type { ProjectView } from "../../worker/orgs/projects";
import type { TokenView } from "../../worker/tokens/views";
import { ApiError, call } from "./api";

const api_ = hc<AppType>(location.origin).api;

export type Token = TokenView;
export type Role = MyMembership["role"];
export type Group = GroupView;
export type Project = ProjectView;
export type Member = MemberView;
export type Invitation = InvitationView;
export type { InvitationPreview };
/** A one-time link (invitation or password reset): its secret is shown once, then only its hash remains. */
export interface OneTimeLink {
  secret: string;
  url: string;
}
export type AuditEvent = AuditView;
export type Permission = PermissionView;
export type PermissionSet = PermissionSetView;
export type Org = OrgView;
export type Upstream = UpstreamView;
export type Rule = UpstreamRule;
export interface UpstreamFields {
  origin: string;
  rules: Rule[];
  projectFromPath: boolean;
}
export interface Me {
  user: UserView;
  memberships: MyMembership[];
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
  name: string;
  description: string;
  expiresAt: string | null;
  projects: "*" | string[];
  permissions?: string[];
  permissionSet?: string;
  /** Organization tokens. */
  kind?: "org" | "group";
  group?: string;
  admin?: boolean;
  /** Personal tokens: the organization they act in. */
  org?: string;
}
export interface TokenQuery {
  status?: string;
  q?: string;
  group?: string;
  cursor?: string;
}

/** Where tokens live: an organization's (org and group tokens) or the caller's own. */
export type Scope = { org: string } | "me";
export type TokenAction = "regenerate" | "disable" | "enable" | "revoke";
export type OrgResource = "groups" | "projects" | "members";

const LIMIT = "100";
/** Empty filters stay out of the address. */
const defined = <T extends object>(q: T) => Object.fromEntries(Object.entries(q).filter(([, v]) => v)) as T;

/** Every item of a paged list: pickers and catalogs need all of them, not the first page. */
async function all<T>(page: (cursor?: string) => Promise<Page<T>>): Promise<Page<T>> {
  const items: T[] = [];
  let next: string | null | undefined;
  do {
    const p = await page(next ?? undefined);
    items.push(...p.items);
    next = p.next;
  } while (next);
  return { items, next: null };
}

const org = api_.orgs[":org"];
const orgToken = org.tokens[":id"];
const myToken = api_.me.tokens[":id"];
const upstream = org.upstreams[":name"];

export const api = {
  setupNeeded: () => call(() => api_.setup.$get()),
  setup: (json: { email: string; password: string; org: { slug: string; name: string } }) =>
    call(() => api_.setup.$post({ json })),
  login: (json: { email: string; password: string }) => call(() => api_.session.$post({ json }), false),
  logout: () => call(() => api_.session.$delete()),
  confirm: (password: string) => call(() => api_.session.confirm.$post({ json: { password } }), false),
  async me(): Promise<Me> {
    const me = await call(() => api_.me.$get());
    // Admin tokens use the API from scripts; the console is for people.
    if (me.type !== "user") throw new ApiError(401, "unauthenticated", "Sign in with your email and password.");
    return me;
  },

  orgs: () => all((cursor) => call(() => api_.orgs.$get({ query: defined({ cursor, limit: LIMIT }) }))),
  createOrg: (json: { slug: string; name: string }) => call(() => api_.orgs.$post({ json })),
  org: (slug: string) => call(() => org.$get({ param: { org: slug } })),
  /** A webhook without `secret` keeps the stored one. */
  patchOrg: (slug: string, json: { name?: string; webhook?: { url: string; secret?: string } | null }) =>
    call(() => org.$patch({ param: { org: slug }, json })),

  tokens: (s: Scope, q: TokenQuery): Promise<Page<Token>> =>
    s === "me"
      ? call(() => api_.me.tokens.$get({ query: defined(q) }))
      : call(() => org.tokens.$get({ param: s, query: defined(q) })),
  token: (s: Scope, id: string): Promise<Token> =>
    s === "me" ? call(() => myToken.$get({ param: { id } })) : call(() => orgToken.$get({ param: { ...s, id } })),
  createToken: (s: Scope, json: NewToken): Promise<WithSecret> =>
    s === "me"
      ? call(() => api_.me.tokens.$post({ json: { ...json, org: json.org!, admin: undefined } }))
      : call(() => org.tokens.$post({ param: s, json: { ...json, kind: json.kind ?? "org" } })),
  editToken: (
    s: Scope,
    id: string,
    json: { name?: string; description?: string; projects?: string[] },
  ): Promise<Token> =>
    s === "me"
      ? call(() => myToken.$patch({ param: { id }, json }))
      : call(() => orgToken.$patch({ param: { ...s, id }, json })),
  tokenAction: (s: Scope, id: string, action: TokenAction): Promise<Token | WithSecret> =>
    s === "me"
      ? call(async () => myToken[action].$post({ param: { id } }))
      : call(async () => orgToken[action].$post({ param: { ...s, id } })),
  copyToken: (s: Scope, id: string, json: { name: string }): Promise<WithSecret> =>
    s === "me"
      ? call(() => myToken.copy.$post({ param: { id }, json }))
      : call(() => orgToken.copy.$post({ param: { ...s, id }, json })),
  deleteToken: (s: Scope, id: string) =>
    s === "me" ? call(() => myToken.$delete({ param: { id } })) : call(() => orgToken.$delete({ param: { ...s, id } })),
  revokeMany: (s: Scope, ids: string[]) =>
    s === "me"
      ? call(() => api_.me.tokens.revoke.$post({ json: { ids } }))
      : call(() => org.tokens.revoke.$post({ param: s, json: { ids } })),

  groups: (slug: string) =>
    all((cursor) => call(() => org.groups.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) }))),
  projects: (slug: string) =>
    all((cursor) => call(() => org.projects.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) }))),
  members: (slug: string) =>
    all((cursor) => call(() => org.members.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) }))),
  createGroup: (slug: string, json: { name: string; slug: string }) =>
    call(() => org.groups.$post({ param: { org: slug }, json })),
  createProject: (slug: string, json: { key: string; name: string; group: string | null }) =>
    call(() => org.projects.$post({ param: { org: slug }, json })),
  /** An email with an account becomes a member; any other gets an invitation, whose link is answered once. */
  addMember: (slug: string, json: { email: string; role: Role; group?: string }) =>
    call(() => org.members.$post({ param: { org: slug }, json })),
  invitations: (slug: string) =>
    all((cursor) =>
      call(() => org.invitations.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) })),
    ),
  revokeInvitation: (slug: string, id: string) =>
    call(() => org.invitations[":id"].$delete({ param: { org: slug, id } })),
  // Public: the link's secret is the credential, sent in the body; a 401 here is no session ending.
  previewInvitation: (secret: string) => call(() => api_.invitations.preview.$post({ json: { secret } }), false),
  registerInvitation: (json: { secret: string; name: string; password: string }) =>
    call(() => api_.invitations.register.$post({ json }), false),
  acceptInvitation: (secret: string) => call(() => api_.invitations.accept.$post({ json: { secret } })),
  issuePasswordReset: (userId: string) =>
    call(() => api_.users[":id"]["password-reset"].$post({ param: { id: userId } })),
  previewPasswordReset: (secret: string) =>
    call(() => api_["password-resets"].preview.$post({ json: { secret } }), false),
  completePasswordReset: (json: { secret: string; password: string }) =>
    call(() => api_["password-resets"].complete.$post({ json }), false),
  remove: (slug: string, what: OrgResource, id: string) =>
    call(() => org[what][":id"].$delete({ param: { org: slug, id } })),

  upstreams: (slug: string) => call(() => org.upstreams.$get({ param: { org: slug } })),
  createUpstream: (slug: string, json: UpstreamFields & { name: string }) =>
    call(() => org.upstreams.$post({ param: { org: slug }, json })),
  editUpstream: (slug: string, name: string, json: UpstreamFields) =>
    call(() => upstream.$patch({ param: { org: slug, name }, json })),
  deleteUpstream: (slug: string, name: string) => call(() => upstream.$delete({ param: { org: slug, name } })),
  rotateUpstreamSecret: (slug: string, name: string) =>
    call(() => upstream["rotate-secret"].$post({ param: { org: slug, name } })),

  audit: (slug: string, cursor?: string) =>
    call(() => org.audit.$get({ param: { org: slug }, query: defined({ cursor }) })),
  permissions: () => all((cursor) => call(() => api_.permissions.$get({ query: defined({ cursor, limit: LIMIT }) }))),
  createPermission: (json: { name: string; description: string }) => call(() => api_.permissions.$post({ json })),
  permissionSets: () =>
    all((cursor) => call(() => api_["permission-sets"].$get({ query: defined({ cursor, limit: LIMIT }) }))),
  createPermissionSet: (json: { name: string; description: string; permissions: string[] }) =>
    call(() => api_["permission-sets"].$post({ json })),
};
