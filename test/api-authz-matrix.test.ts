import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { MANAGEMENT_PERMISSIONS } from "../worker/auth/management-permissions";
import { PUBLIC_API_ROUTES } from "../worker/auth/public-routes";
import { routeTable } from "../worker/index";
import { api, confirm, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { addPerson } from "./support/people";
import { webhookSecret } from "./support/webhooks";

// For every management route: callers of another organization, group admins outside their group
// and plain members get 404 or 403, never the sudo refusal (they all have sudo), and nothing changes.

// Each case walks dozens of routes and compares whole tables: slower than the default 5 s on a busy machine.
vi.setConfig({ testTimeout: 30_000 });

const PW = "matrix password 123";
let owner: string;
const ids = {
  g1: "",
  g2: "",
  p1: "",
  p2: "",
  member: "",
  memberUser: "",
  invitation: "",
  t1: "",
  t2: "",
  t3: "",
  personal: "",
};
const secrets: string[] = [];
let personalSecret = "";

type Route = readonly [method: string, path: string, body?: unknown];

const tokenRoutes = (id: string): Route[] => [
  ["GET", `/api/orgs/alpha/tokens/${id}`],
  ["GET", `/api/orgs/alpha/tokens/${id}/usage`],
  ["PATCH", `/api/orgs/alpha/tokens/${id}`, { name: "hijacked" }],
  ["DELETE", `/api/orgs/alpha/tokens/${id}`],
  ["POST", `/api/orgs/alpha/tokens/${id}/regenerate`],
  ["POST", `/api/orgs/alpha/tokens/${id}/end-grace`],
  ["POST", `/api/orgs/alpha/tokens/${id}/copy`, {}],
  ["POST", `/api/orgs/alpha/tokens/${id}/disable`],
  ["POST", `/api/orgs/alpha/tokens/${id}/enable`],
  ["POST", `/api/orgs/alpha/tokens/${id}/revoke`],
  ["POST", `/api/orgs/alpha/tokens/${id}/keep`],
  ["GET", `/api/orgs/alpha/tokens/${id}/history`],
];

const newToken = (over: Record<string, unknown> = {}) => ({
  kind: "org",
  name: "evil",
  expiresAt: null,
  projects: "*",
  permissions: ["analysis:execute"],
  ...over,
});

/** Routes that change the organization's structure, its tokens, or read what only admins read. */
function protectedRoutes(): Route[] {
  return [
    [
      "PATCH",
      "/api/orgs/alpha",
      { name: "pwned", webhook: { url: "https://evil.example/hook", secret: webhookSecret("matrix") } },
    ],
    [
      "PUT",
      "/api/orgs/alpha/policies",
      {
        lifetime: {
          org: { maxLifetimeDays: 1, expiryRequired: true },
          group: { maxLifetimeDays: 1, expiryRequired: true },
          personal: { maxLifetimeDays: 1, expiryRequired: true },
        },
        personalPermissionSets: [],
        expiryNoticeDays: [],
      },
    ],
    ["POST", "/api/orgs/alpha/groups", { slug: "evil", name: "evil" }],
    ["PATCH", `/api/orgs/alpha/groups/${ids.g1}`, { name: "pwned" }],
    ["DELETE", `/api/orgs/alpha/groups/${ids.g1}`],
    ["POST", "/api/orgs/alpha/projects", { key: "evil", name: "evil" }],
    ["PATCH", `/api/orgs/alpha/projects/${ids.p1}`, { name: "pwned", group: null }],
    ["DELETE", `/api/orgs/alpha/projects/${ids.p1}`],
    ["POST", "/api/orgs/alpha/members", { email: "spy@example.com", role: "org_admin" }],
    ["POST", "/api/orgs/alpha/members", { email: "member@alpha.test", role: "group_admin", group: "one" }],
    ["GET", "/api/orgs/alpha/invitations"],
    ["DELETE", `/api/orgs/alpha/invitations/${ids.invitation}`],
    ["PATCH", `/api/orgs/alpha/members/${ids.member}`, { role: "org_admin" }],
    ["DELETE", `/api/orgs/alpha/members/${ids.member}`],
    ["GET", "/api/orgs/alpha/tokens"],
    ["GET", "/api/orgs/alpha/overview"],
    ["POST", "/api/orgs/alpha/tokens", newToken()],
    ["POST", "/api/orgs/alpha/tokens", newToken({ kind: "group", group: "one" })],
    ["POST", "/api/orgs/alpha/tokens/revoke", { ids: [ids.t1, ids.t2, ids.t3] }],
    ["POST", "/api/orgs/alpha/tokens/disable", { ids: [ids.t1, ids.t2, ids.t3] }],
    ["POST", "/api/orgs/alpha/tokens/enable", { ids: [ids.t1, ids.t2, ids.t3] }],
    ["GET", "/api/orgs/alpha/tokens/counts"],
    ...tokenRoutes(ids.t1),
    ...tokenRoutes(ids.t2),
    ...tokenRoutes(ids.t3),
    ["GET", "/api/orgs/alpha/audit"],
    ["GET", "/api/orgs/alpha/audit/export"],
    ["POST", "/api/orgs/alpha/leaks", [{ token: "tso_not_a_real_token" }]],
    ["GET", "/api/orgs/alpha/upstreams"],
    [
      "POST",
      "/api/orgs/alpha/upstreams",
      {
        name: "evil",
        origin: "https://evil.example",
        rules: [{ method: "*", pathPrefix: "/", permission: "analysis:read" }],
      },
    ],
    ["GET", "/api/orgs/alpha/upstreams/quality"],
    ["PATCH", "/api/orgs/alpha/upstreams/quality", { origin: "https://evil.example" }],
    ["DELETE", "/api/orgs/alpha/upstreams/quality"],
    ["POST", "/api/orgs/alpha/upstreams/quality/rotate-secret"],
    ["GET", "/api/orgs/alpha/two-factor-policy"],
    ["PUT", "/api/orgs/alpha/two-factor-policy", { requiredForAdmins: false }],
    ["GET", "/api/orgs/alpha/webhook/events"],
    ["PUT", "/api/orgs/alpha/webhook/events", { events: ["token.created"] }],
    ["GET", "/api/orgs/alpha/webhook/deliveries"],
    ["POST", "/api/orgs/alpha/webhook/deliveries/msg_any/redeliver"],
  ];
}

/** Reads a member may make in their own organization, but a stranger may not. */
function memberReads(): Route[] {
  return [
    ["GET", "/api/orgs/alpha"],
    ["GET", "/api/orgs/alpha/policies"],
    ["GET", "/api/orgs/alpha/groups"],
    ["GET", `/api/orgs/alpha/groups/${ids.g1}`],
    ["GET", "/api/orgs/alpha/projects"],
    ["GET", `/api/orgs/alpha/projects/${ids.p1}`],
    ["GET", "/api/orgs/alpha/members"],
    ["GET", `/api/orgs/alpha/members/${ids.member}`],
  ];
}

const personalRoutes = (): Route[] => [
  ["GET", `/api/me/tokens/${ids.personal}/history`],
  ["GET", `/api/me/tokens/${ids.personal}`],
  ["GET", `/api/me/tokens/${ids.personal}/usage`],
  ["PATCH", `/api/me/tokens/${ids.personal}`, { name: "hijacked" }],
  ["DELETE", `/api/me/tokens/${ids.personal}`],
  ["POST", `/api/me/tokens/${ids.personal}/regenerate`],
  ["POST", `/api/me/tokens/${ids.personal}/end-grace`],
  ["POST", `/api/me/tokens/${ids.personal}/copy`, {}],
  ["POST", `/api/me/tokens/${ids.personal}/disable`],
  ["POST", `/api/me/tokens/${ids.personal}/enable`],
  ["POST", `/api/me/tokens/${ids.personal}/revoke`],
  ["POST", `/api/me/tokens/${ids.personal}/keep`],
  [
    "POST",
    "/api/me/tokens",
    { org: "alpha", name: "x", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
  ],
];

const ownerOnlyRoutes = (): Route[] => [
  ["POST", "/api/orgs", { slug: "gamma", name: "Gamma" }],
  ["POST", "/api/permissions", { name: "evil:do" }],
  ["PATCH", "/api/permissions/analysis:execute", { description: "pwned" }],
  ["DELETE", "/api/permissions/tokens:introspect"],
  ["POST", "/api/permission-sets", { name: "Evil", permissions: ["analysis:execute"] }],
  ["PATCH", "/api/permission-sets/pset_execute_analysis", { name: "pwned" }],
  ["DELETE", "/api/permission-sets/pset_maven_plugin"],
  ["GET", "/api/audit"],
  ["GET", "/api/audit/export"],
  ["GET", "/api/jobs"],
  ["POST", "/api/jobs/run"],
  ["POST", `/api/users/${ids.memberUser}/password-reset`],
];

/**
 * What any signed-in caller uses for itself (its own account, session, personal tokens, the catalog
 * everyone reads): they need a caller, not a role, and the 401 test below covers them.
 */
const selfRoutes = (): Route[] => [
  ["GET", "/api/me"],
  ["POST", "/api/me/password", { currentPassword: PW, newPassword: "another password 123" }],
  ["POST", "/api/session/confirm", { password: PW }],
  ["GET", "/api/me/sessions"],
  ["POST", "/api/me/sessions/sign-out-others"],
  ["DELETE", "/api/me/sessions/0123456789abcdef"],
  ["GET", "/api/me/two-factor"],
  ["POST", "/api/me/two-factor/setup", { password: PW }],
  ["POST", "/api/me/two-factor/enable", { password: PW, code: "000000" }],
  ["POST", "/api/me/two-factor/recovery-codes", { password: PW, code: "000000" }],
  ["POST", "/api/me/two-factor/disable", { password: PW, code: "000000" }],
  ["GET", "/api/orgs"],
  ["GET", "/api/me/tokens"],
  ["POST", "/api/me/tokens/revoke", { ids: ["x"] }],
  ["POST", "/api/me/tokens/disable", { ids: ["x"] }],
  ["POST", "/api/me/tokens/enable", { ids: ["x"] }],
  ["GET", "/api/me/tokens/counts"],
  ["POST", "/api/invitations/accept", { secret: "x" }],
  ["GET", "/api/permissions"],
  ["GET", "/api/permissions/analysis:read"],
  ["GET", "/api/permission-sets"],
  ["GET", "/api/permission-sets/pset_execute_analysis"],
];

/** Routes of the app outside the management API, each with its own authentication and its own tests. */
const NON_API_SURFACES = [
  "GET /v1/verify", // the token is the credential (test/verify-*.test.ts)
  "POST /v1/verify",
  "ALL /gw/*", // the gateway verifies the token it forwards (test/gateway*.test.ts)
  "ALL /gw/:name{[^/]+}/*",
  "POST /oauth/introspect", // an admin token or one holding tokens:introspect (test/introspect.test.ts)
  "POST /oauth/revoke", // the token itself, or a resource server token (test/oauth-standard.test.ts)
  "GET /.well-known/oauth-authorization-server", // public RFC 8414 metadata (test/oauth-standard.test.ts)
  "ALL /.well-known/*", // a JSON 404 for every other well-known path (test/oauth-standard.test.ts)
  "POST /leaks/github", // GitHub's signature (test/leaks.test.ts)
  "GET /healthz", // public, says only ok or unavailable (test/healthz.test.ts)
];

/** Middleware mounted with `.use`: not routes, but they appear in the table. */
const MIDDLEWARE = ["ALL /*", "ALL /api/*"];

const routeKeys = () => [...new Set(routeTable.map((r) => `${r.method} ${r.path}`))];

/** The route pattern Hono would pick for a concrete request: the most literal one that matches. */
function patternOf(method: string, path: string): string | null {
  const regexOf = (pattern: string) =>
    new RegExp(
      `^${pattern
        .split("/")
        .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
        .join("/")}$`,
    );
  const matches = routeTable.filter((r) => r.method === method && regexOf(r.path).test(path)).map((r) => r.path);
  matches.sort((a, b) => a.split(":").length - b.split(":").length);
  return matches[0] ?? null;
}

/** Everything a caller could change, as one comparable value. */
async function snapshot(): Promise<string> {
  const tables = [
    "organizations",
    "groups",
    "projects",
    "users",
    "memberships",
    "tokens",
    "token_projects",
    "token_permissions",
    "permissions",
    "permission_sets",
    "permission_set_items",
    "invitations",
    "password_resets",
    "upstreams",
    "webhook_settings",
    "webhook_outbox",
  ];
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    const rows = (await env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all<Record<string, unknown>>()).results;
    // Usage bookkeeping moves whenever a token authenticates (the admin token under test does): not a change by the caller.
    out[t] = rows.map(({ last_used_at: _, ...rest }) => rest);
  }
  return JSON.stringify(out);
}

async function expectRefused(
  caller: { cookie?: string; token?: string },
  routes: Route[],
  allowed: number[] = [403, 404],
) {
  for (const [method, path, body] of routes) {
    const res = await api(method, path, { ...caller, body });
    expect(allowed, `${method} ${path} answered ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
    expect(res.body?.error?.code, `${method} ${path}`).not.toBe("sudo_required");
    expect(res.body?.secret, `${method} ${path}`).toBeUndefined();
  }
}

async function allStillVerify() {
  for (const secret of [...secrets, personalSecret])
    expect((await api("GET", `/v1/verify?session=${secret}`)).body.result).toBe(0);
}

beforeAll(async () => {
  owner = (await setupOwner({ slug: "alpha", name: "Alpha" })).cookie;
  await confirm(owner, OWNER.password);
  await api("POST", "/api/orgs", { cookie: owner, body: { slug: "beta", name: "Beta" } });
  ids.g1 = (await api("POST", "/api/orgs/alpha/groups", { cookie: owner, body: { slug: "one", name: "One" } })).body.id;
  ids.g2 = (await api("POST", "/api/orgs/alpha/groups", { cookie: owner, body: { slug: "two", name: "Two" } })).body.id;
  ids.p1 = (await api("POST", "/api/orgs/alpha/projects", { cookie: owner, body: { key: "p1", name: "P1" } })).body.id;
  ids.p2 = (
    await api("POST", "/api/orgs/alpha/projects", { cookie: owner, body: { key: "p2", name: "P2", group: "one" } })
  ).body.id;
  const joined = await addPerson({ cookie: owner }, "alpha", {
    email: "member@alpha.test",
    role: "org_member",
    password: PW,
  });
  ids.member = joined.id;
  ids.memberUser = joined.userId;
  await addPerson({ cookie: owner }, "alpha", {
    email: "gadmin@alpha.test",
    role: "group_admin",
    group: "one",
    password: PW,
  });
  await addPerson({ cookie: owner }, "beta", { email: "admin@beta.test", role: "org_admin", password: PW });
  ids.invitation = (
    await api("POST", "/api/orgs/alpha/members", {
      cookie: owner,
      body: { email: "pending@alpha.test", role: "org_admin" },
    })
  ).body.invitation.id;
  for (const [key, body] of [
    ["t1", newToken({ name: "org token" })],
    ["t2", newToken({ name: "group one token", kind: "group", group: "one" })],
    ["t3", newToken({ name: "group two token", kind: "group", group: "two" })],
  ] as const) {
    const res = await api("POST", "/api/orgs/alpha/tokens", { cookie: owner, body });
    ids[key] = res.body.token.id;
    secrets.push(res.body.secret);
  }
  const member = await sudoSession("member@alpha.test", PW);
  const personal = await api("POST", "/api/me/tokens", {
    cookie: member,
    body: { org: "alpha", name: "mine", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
  });
  ids.personal = personal.body.token.id;
  personalSecret = personal.body.secret;
});

describe("another organization's admin (cookie, with sudo)", () => {
  it("gets 404 on every alpha route and changes nothing", async () => {
    const before = await snapshot();
    const betaAdmin = await sudoSession("admin@beta.test", PW);
    await expectRefused({ cookie: betaAdmin }, [...protectedRoutes(), ...memberReads(), ...personalRoutes()], [404]);
    expect(await snapshot()).toBe(before);
    await allStillVerify();
  });

  it("gets 403 on the owner's routes", async () => {
    const before = await snapshot();
    await expectRefused({ cookie: await sudoSession("admin@beta.test", PW) }, ownerOnlyRoutes(), [403]);
    expect(await snapshot()).toBe(before);
  });
});

describe("another organization's admin token", () => {
  it("gets 404 or 403 on every alpha route and changes nothing", async () => {
    const betaAdmin = await sudoSession("admin@beta.test", PW);
    // Every management permission, so that only the organization boundary stops it.
    const everything = ["analysis:execute", ...MANAGEMENT_PERMISSIONS];
    const made = await api("POST", "/api/orgs/beta/tokens", {
      cookie: betaAdmin,
      body: newToken({ name: "beta bot", admin: true, permissions: everything }),
    });
    expect(made.status).toBe(201);
    const before = await snapshot();
    await expectRefused({ token: made.body.secret }, [
      ...protectedRoutes(),
      ...memberReads(),
      ...personalRoutes(),
      ...ownerOnlyRoutes(),
    ]);
    expect(await snapshot()).toBe(before);
    await allStillVerify();
  });
});

describe("a group admin", () => {
  it("cannot touch organization tokens, another group's tokens, or the structure", async () => {
    const gadmin = await sudoSession("gadmin@alpha.test", PW);
    const before = await snapshot();
    const refused = protectedRoutes().filter(([, path, body]) => {
      // Their own group's token routes and the bulk route (answered per id) are checked below.
      if (path.includes(ids.t2)) return false;
      if (/\/tokens\/(revoke|disable|enable|counts)$/.test(path)) return false;
      if (path === "/api/orgs/alpha/tokens") return body !== undefined && (body as { kind?: string }).kind !== "group";
      // Their groups' tokens at a glance: checked below.
      if (path.endsWith("/overview")) return false;
      return true;
    });
    await expectRefused({ cookie: gadmin }, [...refused, ...personalRoutes().slice(0, -1)]);
    const overview = await api("GET", "/api/orgs/alpha/overview", { cookie: gadmin });
    expect(Object.values(overview.body.statuses).reduce((a: number, b) => a + (b as number), 0)).toBe(1);
    const bulk = await api("POST", "/api/orgs/alpha/tokens/revoke", {
      cookie: gadmin,
      body: { ids: [ids.t1, ids.t3] },
    });
    expect(bulk.body).toEqual({ revoked: [], notFound: [ids.t1, ids.t3] });
    for (const change of ["disable", "enable"]) {
      const res = await api("POST", `/api/orgs/alpha/tokens/${change}`, {
        cookie: gadmin,
        body: { ids: [ids.t1, ids.t3] },
      });
      expect(res.body, change).toEqual({ changed: [], notFound: [ids.t1, ids.t3], skipped: [] });
    }
    expect(await snapshot()).toBe(before);
    await allStillVerify();
  });

  it("manages its own group's tokens and sees only those", async () => {
    const gadmin = await sudoSession("gadmin@alpha.test", PW);
    const list = await api("GET", "/api/orgs/alpha/tokens", { cookie: gadmin });
    expect(list.body.items.map((t: { id: string }) => t.id)).toEqual([ids.t2]);
    expect((await api("GET", "/api/orgs/alpha/tokens?kind=org", { cookie: gadmin })).body.items).toEqual([]);
    expect(
      (await api("PATCH", `/api/orgs/alpha/tokens/${ids.t2}`, { cookie: gadmin, body: { description: "mine" } }))
        .status,
    ).toBe(200);
  });
});

describe("a member", () => {
  it("reads the structure but manages nothing", async () => {
    const member = await sudoSession("member@alpha.test", PW);
    for (const [method, path] of memberReads())
      expect((await api(method, path, { cookie: member })).status, path).toBe(200);
    const before = await snapshot();
    await expectRefused({ cookie: member }, [...protectedRoutes(), ...ownerOnlyRoutes()]);
    expect(await snapshot()).toBe(before);
    await allStillVerify();
  });
});

describe("someone with no membership at all", () => {
  it("sees no organization", async () => {
    await api("POST", "/api/orgs/beta/groups", { cookie: owner, body: { slug: "solo", name: "Solo" } });
    await addPerson({ cookie: owner }, "beta", {
      email: "loner@beta.test",
      role: "group_member",
      group: "solo",
      password: PW,
    });
    const loner = await sudoSession("loner@beta.test", PW);
    const orgs = await api("GET", "/api/orgs", { cookie: loner });
    expect(orgs.body.items.map((o: { slug: string }) => o.slug)).toEqual(["beta"]);
    const before = await snapshot();
    await expectRefused({ cookie: loner }, [...protectedRoutes(), ...memberReads(), ...personalRoutes()], [404]);
    expect(await snapshot()).toBe(before);
  });
});

describe("the app's route table", () => {
  it("has every route classified: by this matrix, as public, or as a surface outside the management API", () => {
    const classified = new Set([
      ...PUBLIC_API_ROUTES.map(([method, path]) => `${method} ${path}`),
      ...NON_API_SURFACES,
      ...MIDDLEWARE,
    ]);
    for (const [method, path] of [
      ...protectedRoutes(),
      ...memberReads(),
      ...personalRoutes(),
      ...ownerOnlyRoutes(),
      ...selfRoutes(),
    ]) {
      const pattern = patternOf(method, path);
      expect(pattern, `${method} ${path} matches no route`).not.toBeNull();
      classified.add(`${method} ${pattern}`);
    }
    // A new route fails here until it is added to one of the lists above (and so to the checks on it).
    expect(routeKeys().filter((key) => !classified.has(key))).toEqual([]);
  });

  it("answers 401 without credentials on every /api route but the public ones, before looking at the request", async () => {
    const publicKeys = new Set(PUBLIC_API_ROUTES.map(([method, path]) => `${method} ${path}`));
    const closed = routeKeys().filter(
      (key) => key.includes(" /api/") && !key.startsWith("ALL ") && !publicKeys.has(key),
    );
    expect(closed.length).toBeGreaterThan(50);
    for (const key of closed) {
      const [method, pattern] = key.split(" ") as [string, string];
      const path = pattern.replace(/:[^/]+/g, "alpha");
      const res = await api(method, path, { body: method === "GET" ? undefined : {} });
      expect(res.status, key).toBe(401);
      expect(res.body.error.code, key).toBe("unauthenticated");
    }
  });
});
