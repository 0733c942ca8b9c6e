import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SUDO_WINDOW_MS } from "../worker/accounts/limits";
import { newUserRow } from "../worker/accounts/users";
import { database } from "../worker/db/client";
import { users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { api, confirm, login, OWNER, setupOwner } from "./support/api-client";
import { webhookSecret } from "./support/webhooks";

// Sudo (docs/API.md): the actions that can hand someone lasting access or redirect what Tessera
// sends need the password confirmed within the last 5 minutes, so a stolen or unattended session
// cannot take them. Without it they answer 403 sudo_required and change nothing.

const PW = "sudo test password 1";
let sudoOwner: string;
const ids = { member: "", memberUser: "", invitation: "" };

const upstream = {
  name: "quality",
  origin: "https://quality.example",
  rules: [{ method: "GET", pathPrefix: "/", permission: "analysis:read" }],
};

/** What the refused actions could change. */
async function snapshot(): Promise<string> {
  const tables = [
    "organizations",
    "memberships",
    "invitations",
    "users",
    "upstreams",
    "password_resets",
    "webhook_settings",
    "projects",
  ];
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = (await env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()).results;
  return JSON.stringify(out);
}

/** Each action needing sudo, with a body that would succeed with it. */
const SUDO_ROUTES = (): [method: string, path: string, body?: unknown][] => [
  ["POST", "/api/orgs/acme/members", { email: "colleague@acme.test", role: "org_admin" }],
  ["POST", "/api/orgs/acme/members", { email: "stranger@acme.test", role: "org_admin" }],
  ["PATCH", `/api/orgs/acme/members/${ids.member}`, { role: "org_admin" }],
  ["DELETE", `/api/orgs/acme/members/${ids.member}`],
  ["DELETE", `/api/orgs/acme/invitations/${ids.invitation}`],
  ["PATCH", "/api/orgs/acme", { webhook: { url: "https://evil.example/hook", secret: webhookSecret("sudo") } }],
  ["PATCH", "/api/orgs/acme", { webhook: null }],
  ["PUT", "/api/orgs/acme/webhook/events", { events: ["token.created", "token.revoked"] }],
  [
    "PATCH",
    "/api/orgs/acme",
    { name: "Renamed", webhook: { url: "https://hooks.acme.test/other", secret: webhookSecret("sudo") } },
  ],
  ["POST", "/api/orgs/acme/upstreams", { ...upstream, name: "evil" }],
  ["PATCH", "/api/orgs/acme/upstreams/quality", { origin: "https://evil.example" }],
  ["POST", "/api/orgs/acme/upstreams/quality/rotate-secret"],
  ["DELETE", "/api/orgs/acme/upstreams/quality"],
  ["POST", "/api/orgs", { slug: "shadow", name: "Shadow" }],
  // A new project widens every token for all projects at once.
  ["POST", "/api/orgs/acme/projects", { key: "billing", name: "Billing" }],
  ["POST", `/api/users/${ids.memberUser}/password-reset`],
];

async function addAccount(email: string) {
  await database(primarySession(env.DB))
    .insert(users)
    .values(await newUserRow({ email, name: email, password: PW, isOwner: false }, Date.now()));
}

async function expectSudoRequired(cookie: string) {
  const before = await snapshot();
  for (const [method, path, body] of SUDO_ROUTES()) {
    const res = await api(method, path, { cookie, body });
    expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`).toBe(403);
    expect(res.body.error.code, `${method} ${path}`).toBe("sudo_required");
  }
  expect(await snapshot()).toBe(before);
}

beforeAll(async () => {
  sudoOwner = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(sudoOwner, OWNER.password);
  for (const email of ["member@acme.test", "colleague@acme.test"]) await addAccount(email);
  const member = (
    await api("POST", "/api/orgs/acme/members", {
      cookie: sudoOwner,
      body: { email: "member@acme.test", role: "org_member" },
    })
  ).body;
  ids.member = member.id;
  ids.memberUser = member.user.id;
  ids.invitation = (
    await api("POST", "/api/orgs/acme/members", {
      cookie: sudoOwner,
      body: { email: "invited@acme.test", role: "org_member" },
    })
  ).body.invitation.id;
  expect(
    (
      await api("PATCH", "/api/orgs/acme", {
        cookie: sudoOwner,
        body: { webhook: { url: "https://hooks.acme.test/x", secret: webhookSecret("sudo") } },
      })
    ).status,
  ).toBe(200);
  expect((await api("POST", "/api/orgs/acme/upstreams", { cookie: sudoOwner, body: upstream })).status).toBe(201);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("a console session without a fresh password confirmation", () => {
  it("gets 403 sudo_required for adding, inviting, changing and removing members, the webhook, upstreams, new organizations and projects, and password resets, and nothing changes", async () => {
    await expectSudoRequired(await login(OWNER.email, OWNER.password));
  });

  it("gets the same once a confirmation is older than 5 minutes", async () => {
    const cookie = await login(OWNER.email, OWNER.password);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() - SUDO_WINDOW_MS - 1000);
    await confirm(cookie, OWNER.password);
    vi.useRealTimers();
    await expectSudoRequired(cookie);
  });

  it("an organization admin who is not the owner gets the same on its organization's routes", async () => {
    await addAccount("admin@acme.test");
    expect(
      (
        await api("POST", "/api/orgs/acme/members", {
          cookie: sudoOwner,
          body: { email: "admin@acme.test", role: "org_admin" },
        })
      ).status,
    ).toBe(201);
    const admin = await login("admin@acme.test", PW);
    const before = await snapshot();
    // Creating organizations and issuing password resets are the owner's alone.
    for (const [method, path, body] of SUDO_ROUTES().filter(([, path]) => path.startsWith("/api/orgs/"))) {
      const res = await api(method, path, { cookie: admin, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code, `${method} ${path}`).toBe("sudo_required");
    }
    expect(await snapshot()).toBe(before);
  });

  it("renames the organization without sudo when the webhook is left alone", async () => {
    const cookie = await login(OWNER.email, OWNER.password);
    const res = await api("PATCH", "/api/orgs/acme", { cookie, body: { name: "Acme Renamed" } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: "Acme Renamed",
      webhook: { url: "https://hooks.acme.test/x", hasSecret: true },
    });
  });
});

describe("with the password confirmed", () => {
  it("every one of those actions goes through", async () => {
    const cookie = await login(OWNER.email, OWNER.password);
    await confirm(cookie, OWNER.password);
    for (const [method, path, body] of SUDO_ROUTES()) {
      const res = await api(method, path, { cookie, body });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    }
  });
});
