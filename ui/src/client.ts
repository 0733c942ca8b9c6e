// Every management API call the console makes, through Hono's typed client: request and response
// shapes come from the worker's own routes (`AppType`), so a contract change fails the typecheck.
import { hc, type InferRequestType, type InferResponseType } from "hono/client";
import type { AppType } from "../../worker/index";
import { ApiError, call } from "./api";
import { bookmarkedFetch } from "./bookmark";

const api_ = hc<AppType>(location.origin, { fetch: bookmarkedFetch() }).api;
/** The typed routes themselves, for on-demand screens that keep their calls in their own chunk. */
export const routes = api_;
const org = api_.orgs[":org"];
const orgToken = org.tokens[":id"];
const myToken = api_.me.tokens[":id"];
const upstream = org.upstreams[":name"];
const webhook = org.webhook;

/** The JSON body a route takes, what it answers with 200 (201 for a creation), one item of its list. */
type Body<F> = InferRequestType<F> extends { json: infer J } ? J : never;
type Reply<F, S extends 200 | 201 = 200> = InferResponseType<F, S>;
type Item<F> = Reply<F>["items"][number];

export type Token = Reply<typeof orgToken.$get>;
/** The signed-in person (admin tokens get no console: `api.me` refuses them). */
export type Me = Extract<Reply<typeof api_.me.$get>, { type: "user" }>;
export type Role = Me["memberships"][number]["role"];
export type Group = Item<typeof org.groups.$get>;
export type Project = Item<typeof org.projects.$get>;
export type Member = Item<typeof org.members.$get>;
export type Invitation = Item<typeof org.invitations.$get>;
export type InvitationPreview = Reply<typeof api_.invitations.preview.$post>;
/** A password reset link: its secret is shown once, then only its hash remains. */
export type ResetLink = Reply<(typeof api_.users)[":id"]["password-reset"]["$post"], 201>;
/** A one-time link (invitation or password reset). */
export type OneTimeLink = Pick<ResetLink, "secret" | "url">;
export type AuditEvent = Item<typeof org.audit.$get>;
/** The audit log's filters, as the API and the page's address both spell them. */
export type AuditQuery = Omit<InferRequestType<typeof org.audit.$get>["query"], "cursor" | "limit">;
/** Where an audit list comes from: an organization's log, the instance's (owner), or one token's history. */
export type AuditSource = { org: string } | "instance";
export type JobStatus = Item<typeof api_.jobs.$get>;
export type JobsReport = Reply<typeof api_.jobs.run.$post>;
export type Permission = Item<typeof api_.permissions.$get>;
export type PermissionSet = Item<(typeof api_)["permission-sets"]["$get"]>;
/** An organization as it is changed (reading it adds the caller's role). */
export type Org = Reply<typeof org.$patch>;
export type Upstream = Item<typeof org.upstreams.$get>;
export type Rule = Upstream["rules"][number];
export type WebhookSubscription = Reply<typeof webhook.events.$get>;
export type WebhookDelivery = Item<typeof webhook.deliveries.$get>;
export interface Page<T> {
  items: T[];
  next: string | null;
}
export type WithSecret = Reply<typeof org.tokens.$post, 201>;
type OrgTokenBody = Body<typeof org.tokens.$post>;
/** An organization's token (its kind defaults to "org") or a personal one (`org`: where it acts). */
export type NewToken = Omit<OrgTokenBody, "kind"> &
  Partial<Pick<OrgTokenBody, "kind">> &
  Partial<Pick<Body<typeof api_.me.tokens.$post>, "org">>;
export type TokenQuery = InferRequestType<typeof org.tokens.$get>["query"];

/** Where tokens live: an organization's (org and group tokens) or the caller's own. */
export type Scope = { org: string } | "me";
export type TokenAction = "disable" | "enable" | "revoke" | "keep";
export type Policies = Reply<typeof org.policies.$get>;
export type PoliciesBody = Body<typeof org.policies.$put>;
export type TokenCounts = Reply<typeof org.tokens.counts.$get>;
export type TokenUsage = Reply<typeof orgToken.usage.$get>;
export type Overview = Reply<typeof org.overview.$get>;
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

export const api = {
  setupNeeded: () => call(() => api_.setup.$get()),
  setup: (json: Body<typeof api_.setup.$post>) => call(() => api_.setup.$post({ json })),
  login: (json: Body<typeof api_.session.$post>) => call(() => api_.session.$post({ json }), false),
  logout: () => call(() => api_.session.$delete()),
  confirm: (password: string, code?: string) =>
    call(() => api_.session.confirm.$post({ json: { password, code } }), false),
  async me(): Promise<Me> {
    const me = await call(() => api_.me.$get());
    // Admin tokens use the API from scripts; the console is for people.
    if (me.type !== "user") throw new ApiError(401, "unauthenticated", "Sign in with your email and password.");
    return me;
  },

  orgs: () => all((cursor) => call(() => api_.orgs.$get({ query: defined({ cursor, limit: LIMIT }) }))),
  createOrg: (json: Body<typeof api_.orgs.$post>) => call(() => api_.orgs.$post({ json })),
  org: (slug: string) => call(() => org.$get({ param: { org: slug } })),
  /** A webhook without `secret` keeps the stored one. */
  patchOrg: (slug: string, json: Body<typeof org.$patch>) => call(() => org.$patch({ param: { org: slug }, json })),

  tokens: (s: Scope, q: TokenQuery): Promise<Page<Token>> =>
    call(() =>
      s === "me" ? api_.me.tokens.$get({ query: defined(q) }) : org.tokens.$get({ param: s, query: defined(q) }),
    ),
  token: (s: Scope, id: string): Promise<Token> =>
    call(() => (s === "me" ? myToken.$get({ param: { id } }) : orgToken.$get({ param: { ...s, id } }))),
  createToken: (s: Scope, json: NewToken): Promise<WithSecret> =>
    call(() =>
      s === "me"
        ? api_.me.tokens.$post({ json: { ...json, org: json.org!, admin: undefined } })
        : org.tokens.$post({ param: s, json: { ...json, kind: json.kind ?? "org" } }),
    ),
  editToken: (s: Scope, id: string, json: Body<typeof orgToken.$patch>): Promise<Token> =>
    call(() => (s === "me" ? myToken.$patch({ param: { id }, json }) : orgToken.$patch({ param: { ...s, id }, json }))),
  tokenAction: (s: Scope, id: string, action: TokenAction): Promise<Token | WithSecret> =>
    call(async () =>
      s === "me" ? myToken[action].$post({ param: { id } }) : orgToken[action].$post({ param: { ...s, id } }),
    ),
  /** The replaced secret of a regenerate with a grace period stops working now. */
  endGrace: (s: Scope, id: string): Promise<Token> =>
    call(() =>
      s === "me" ? myToken["end-grace"].$post({ param: { id } }) : orgToken["end-grace"].$post({ param: { ...s, id } }),
    ),
  /** A new secret; with `expiresAt`, a new expiry too (renewal); with `graceSeconds`, the old one works that long. */
  regenerateToken: (s: Scope, id: string, json: Body<typeof orgToken.regenerate.$post>): Promise<WithSecret> =>
    call(() =>
      s === "me"
        ? myToken.regenerate.$post({ param: { id }, json })
        : orgToken.regenerate.$post({ param: { ...s, id }, json }),
    ),
  /** Verifications per day over 30 days, and the last addresses. */
  tokenUsage: (s: Scope, id: string): Promise<TokenUsage> =>
    call(() => (s === "me" ? myToken.usage.$get({ param: { id } }) : orgToken.usage.$get({ param: { ...s, id } }))),
  overview: (slug: string): Promise<Overview> => call(() => org.overview.$get({ param: { org: slug } })),
  copyToken: (s: Scope, id: string, json: Body<typeof orgToken.copy.$post>): Promise<WithSecret> =>
    call(() =>
      s === "me" ? myToken.copy.$post({ param: { id }, json }) : orgToken.copy.$post({ param: { ...s, id }, json }),
    ),
  deleteToken: (s: Scope, id: string) =>
    call(() => (s === "me" ? myToken.$delete({ param: { id } }) : orgToken.$delete({ param: { ...s, id } }))),
  revokeMany: (s: Scope, ids: string[]) =>
    call(() =>
      s === "me"
        ? api_.me.tokens.revoke.$post({ json: { ids } })
        : org.tokens.revoke.$post({ param: s, json: { ids } }),
    ),

  /** Bulk disable or enable: `{changed, notFound, skipped}`. */
  setManyEnabled: (s: Scope, ids: string[], change: "disable" | "enable") =>
    call(() =>
      s === "me"
        ? api_.me.tokens[change].$post({ json: { ids } })
        : org.tokens[change].$post({ param: s, json: { ids } }),
    ),
  tokenCounts: (s: Scope, q: { q?: string; group?: string }): Promise<TokenCounts> =>
    call(() =>
      s === "me"
        ? api_.me.tokens.counts.$get({ query: defined({ q: q.q }) })
        : org.tokens.counts.$get({ param: s, query: defined(q) }),
    ),

  policies: (slug: string): Promise<Policies> => call(() => org.policies.$get({ param: { org: slug } })),
  savePolicies: (slug: string, json: PoliciesBody) => call(() => org.policies.$put({ param: { org: slug }, json })),

  groups: (slug: string) =>
    all((cursor) => call(() => org.groups.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) }))),
  projects: (slug: string) =>
    all((cursor) => call(() => org.projects.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) }))),
  members: (slug: string) =>
    all((cursor) => call(() => org.members.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) }))),
  createGroup: (slug: string, json: Body<typeof org.groups.$post>) =>
    call(() => org.groups.$post({ param: { org: slug }, json })),
  createProject: (slug: string, json: Body<typeof org.projects.$post>) =>
    call(() => org.projects.$post({ param: { org: slug }, json })),
  /** An email with an account becomes a member; any other gets an invitation, whose link is answered once. */
  addMember: (slug: string, json: Body<typeof org.members.$post>) =>
    call(() => org.members.$post({ param: { org: slug }, json })),
  invitations: (slug: string) =>
    all((cursor) =>
      call(() => org.invitations.$get({ param: { org: slug }, query: defined({ cursor, limit: LIMIT }) })),
    ),
  revokeInvitation: (slug: string, id: string) =>
    call(() => org.invitations[":id"].$delete({ param: { org: slug, id } })),
  // Public: the link's secret is the credential, sent in the body; a 401 here is no session ending.
  previewInvitation: (secret: string) => call(() => api_.invitations.preview.$post({ json: { secret } }), false),
  registerInvitation: (json: Body<typeof api_.invitations.register.$post>) =>
    call(() => api_.invitations.register.$post({ json }), false),
  acceptInvitation: (secret: string) => call(() => api_.invitations.accept.$post({ json: { secret } })),
  issuePasswordReset: (userId: string) =>
    call(() => api_.users[":id"]["password-reset"].$post({ param: { id: userId } })),
  previewPasswordReset: (secret: string) =>
    call(() => api_["password-resets"].preview.$post({ json: { secret } }), false),
  completePasswordReset: (json: Body<(typeof api_)["password-resets"]["complete"]["$post"]>) =>
    call(() => api_["password-resets"].complete.$post({ json }), false),
  remove: (slug: string, what: OrgResource, id: string) =>
    call(() => org[what][":id"].$delete({ param: { org: slug, id } })),

  upstreams: (slug: string) => call(() => org.upstreams.$get({ param: { org: slug } })),
  createUpstream: (slug: string, json: Body<typeof org.upstreams.$post>) =>
    call(() => org.upstreams.$post({ param: { org: slug }, json })),
  editUpstream: (slug: string, name: string, json: Body<typeof upstream.$patch>) =>
    call(() => upstream.$patch({ param: { org: slug, name }, json })),
  deleteUpstream: (slug: string, name: string) => call(() => upstream.$delete({ param: { org: slug, name } })),
  rotateUpstreamSecret: (slug: string, name: string) =>
    call(() => upstream["rotate-secret"].$post({ param: { org: slug, name } })),

  webhookEvents: (slug: string) => call(() => webhook.events.$get({ param: { org: slug } })),
  setWebhookEvents: (slug: string, events: Body<typeof webhook.events.$put>["events"]) =>
    call(() => webhook.events.$put({ param: { org: slug }, json: { events } })),
  webhookDeliveries: (slug: string) => call(() => webhook.deliveries.$get({ param: { org: slug } })),
  redeliver: (slug: string, id: string) =>
    call(() => webhook.deliveries[":id"].redeliver.$post({ param: { org: slug, id } })),

  audit: (source: AuditSource, q: AuditQuery, cursor?: string) =>
    call(() =>
      source === "instance"
        ? api_.audit.$get({ query: defined({ ...q, cursor }) })
        : org.audit.$get({ param: source, query: defined({ ...q, cursor }) }),
    ),
  /** The address of the filtered log's export (a download: the browser sends the cookie). */
  auditExportUrl: (source: AuditSource, q: AuditQuery, format: "csv" | "json") =>
    (source === "instance"
      ? api_.audit.export.$url({ query: defined({ ...q, format }) })
      : org.audit.export.$url({ param: source, query: defined({ ...q, format }) })
    ).toString(),
  tokenHistory: (s: Scope, id: string, cursor?: string) =>
    call(() =>
      s === "me"
        ? myToken.history.$get({ param: { id }, query: defined({ cursor }) })
        : orgToken.history.$get({ param: { ...s, id }, query: defined({ cursor }) }),
    ),
  jobs: () => call(() => api_.jobs.$get()),
  runJobs: () => call(() => api_.jobs.run.$post()),
  renameGroup: (slug: string, id: string, name: string) =>
    call(() => org.groups[":id"].$patch({ param: { org: slug, id }, json: { name } })),
  renameProject: (slug: string, id: string, name: string) =>
    call(() => org.projects[":id"].$patch({ param: { org: slug, id }, json: { name } })),
  editMember: (slug: string, id: string, json: Body<(typeof org.members)[":id"]["$patch"]>) =>
    call(() => org.members[":id"].$patch({ param: { org: slug, id }, json })),
  editPermissionSet: (id: string, json: Body<(typeof api_)["permission-sets"][":id"]["$patch"]>) =>
    call(() => api_["permission-sets"][":id"].$patch({ param: { id }, json })),
  deletePermissionSet: (id: string) => call(() => api_["permission-sets"][":id"].$delete({ param: { id } })),
  permissions: () => all((cursor) => call(() => api_.permissions.$get({ query: defined({ cursor, limit: LIMIT }) }))),
  createPermission: (json: Body<typeof api_.permissions.$post>) => call(() => api_.permissions.$post({ json })),
  permissionSets: () =>
    all((cursor) => call(() => api_["permission-sets"].$get({ query: defined({ cursor, limit: LIMIT }) }))),
  createPermissionSet: (json: Body<(typeof api_)["permission-sets"]["$post"]>) =>
    call(() => api_["permission-sets"].$post({ json })),
};
