import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, OWNER, setupOwner } from "./support/api-client";
import { addPerson, register } from "./support/people";
import { webhookSecret } from "./support/webhooks";

// The audit log: every management action and token state change, with actor, target, time,
// client address and a small detail, newest first, cursor-paged, each organization its own.

const IP = "198.51.100.23";
let cookie: string;
let ownerId: string;
const secrets: string[] = [];
const WEBHOOK_SECRET = webhookSecret("audit");
const MEMBER_PW = "member password 777";

async function call(method: string, path: string, body?: unknown) {
  const res = await api(method, path, { cookie, body, ip: IP });
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  if (res.body?.secret) secrets.push(res.body.secret);
  return res.body;
}

async function allEvents(path: string) {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { items: any[]; next: string | null } } = await api(
      "GET",
      `${path}${path.includes("?") ? "&" : "?"}limit=5${cursor ? `&cursor=${cursor}` : ""}`,
      { cookie },
    );
    items.push(...res.body.items);
    cursor = res.body.next;
  } while (cursor);
  return items;
}

beforeAll(async () => {
  const setup = await setupOwner({ slug: "acme", name: "Acme" });
  cookie = setup.cookie;
  ownerId = setup.userId;
  await api("POST", "/api/session", { body: { email: OWNER.email, password: "wrong password!!" }, ip: IP });
  cookie = (await api("POST", "/api/session", { body: { email: OWNER.email, password: OWNER.password }, ip: IP }))
    .setCookie!;
  await call("POST", "/api/session/confirm", { password: OWNER.password });
  await call("PATCH", "/api/orgs/acme", {
    name: "Acme Inc",
    webhook: { url: "https://hooks.example.com/x", secret: WEBHOOK_SECRET },
  });
  await call("POST", "/api/orgs/acme/groups", { slug: "backend", name: "Backend" });
  await call("PATCH", "/api/orgs/acme/groups/backend", { name: "Back end" });
  await call("POST", "/api/orgs/acme/projects", { key: "api", name: "API" });
  await call("PATCH", "/api/orgs/acme/projects/api", { name: "The API", group: "backend" });
  const invited = await call("POST", "/api/orgs/acme/members", { email: "dev@example.com", role: "org_member" });
  const member = (await register(invited.secret, "Dev", MEMBER_PW)).body.member;
  const dropped = await call("POST", "/api/orgs/acme/members", { email: "never@example.com", role: "org_member" });
  await call("DELETE", `/api/orgs/acme/invitations/${dropped.invitation.id}`);
  await call("PATCH", `/api/orgs/acme/members/${member.id}`, { role: "org_admin" });
  const made = await call("POST", "/api/orgs/acme/tokens", {
    kind: "org",
    name: "CI",
    expiresAt: null,
    projects: ["api"],
    permissions: ["analysis:execute", "manage:tokens"],
    admin: true,
  });
  await call("PATCH", `/api/orgs/acme/tokens/${made.token.id}`, { description: "pipeline" });
  await call("POST", `/api/orgs/acme/tokens/${made.token.id}/regenerate`);
  await call("POST", `/api/orgs/acme/tokens/${made.token.id}/disable`);
  await call("POST", `/api/orgs/acme/tokens/${made.token.id}/enable`);
  // The admin token acts on its own: its events name the token as the actor.
  const bot = await api("POST", "/api/orgs/acme/tokens", {
    token: secrets.at(-1)!,
    ip: "203.0.113.50",
    body: { kind: "org", name: "made by bot", expiresAt: null, projects: ["api"], permissions: ["analysis:execute"] },
  });
  secrets.push(bot.body.secret);
  await call("POST", `/api/orgs/acme/tokens/${bot.body.token.id}/revoke`);
  await call("DELETE", `/api/orgs/acme/tokens/${bot.body.token.id}`);
  await call("DELETE", `/api/orgs/acme/members/${member.id}`);
  await call("DELETE", "/api/orgs/acme/projects/api");
  await call("DELETE", "/api/orgs/acme/groups/backend");
  await call("POST", "/api/permissions", { name: "reports:read" });
  await call("POST", "/api/permission-sets", { name: "Reports", permissions: ["reports:read"] });
  await call("POST", "/api/orgs", { slug: "globex", name: "Globex" });
  await call("POST", "/api/me/password", { currentPassword: OWNER.password, newPassword: "the next owner password" });
});

describe("the organization's audit log", () => {
  it("records every management action and token change, newest first", async () => {
    const events = await allEvents("/api/orgs/acme/audit");
    const actions = events.map((e) => e.action);
    for (const action of [
      "setup.completed",
      "org.created",
      "org.updated",
      "group.created",
      "group.updated",
      "group.deleted",
      "project.created",
      "project.updated",
      "project.deleted",
      "user.created",
      "member.invited",
      "invitation.accepted",
      "invitation.revoked",
      "member.updated",
      "member.removed",
      "token.created",
      "token.updated",
      "token.regenerated",
      "token.disabled",
      "token.enabled",
      "token.revoked",
      "token.deleted",
    ]) {
      expect(actions, action).toContain(action);
    }
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    expect(actions[0]).toBe("group.deleted");
  });

  it("names the actor (user or token), the target, the time and the client address", async () => {
    const events = await allEvents("/api/orgs/acme/audit");
    const renamed = events.find((e) => e.action === "group.updated");
    expect(renamed).toMatchObject({
      actor: { type: "user", id: ownerId },
      target: { type: "group" },
      ip: IP,
      detail: { name: "Back end" },
    });
    expect(Date.parse(renamed.at)).toBeGreaterThan(Date.now() - 60_000);
    const byBot = events.find((e) => e.action === "token.created" && e.detail.name === "made by bot");
    expect(byBot.actor.type).toBe("token");
    expect(byBot.ip).toBe("203.0.113.50");
  });

  it("filters by action family and by target", async () => {
    const tokenEvents = await allEvents("/api/orgs/acme/audit?action=token.");
    expect(tokenEvents.length).toBeGreaterThan(5);
    expect(tokenEvents.every((e) => e.action.startsWith("token."))).toBe(true);
    const target = tokenEvents.find((e) => e.action === "token.disabled").target.id;
    const one = await allEvents(`/api/orgs/acme/audit?target=${target}`);
    expect(one.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "token.created",
        "token.updated",
        "token.regenerated",
        "token.disabled",
        "token.enabled",
      ]),
    );
    expect(one.every((e) => e.target?.id === target || e.actor.id === target)).toBe(true);
  });

  it("is each organization's own", async () => {
    const globex = await allEvents("/api/orgs/globex/audit");
    expect(globex.map((e) => e.action)).toEqual(["org.created"]);
  });

  it("never holds a secret or a password", async () => {
    const rows = await env.DB.prepare("SELECT * FROM audit_events").all();
    const dump = JSON.stringify(rows.results);
    for (const secret of secrets) expect(dump).not.toContain(secret);
    for (const word of [OWNER.password, "wrong password!!", MEMBER_PW, "the next owner password", WEBHOOK_SECRET])
      expect(dump).not.toContain(word);
  });
});

describe("the instance audit log", () => {
  it("shows the owner sign-ins, failures, sudo, password and catalog changes", async () => {
    const actions = (await allEvents("/api/audit")).map((e) => e.action);
    for (const action of [
      "session.login",
      "session.login_failed",
      "session.sudo",
      "user.password_changed",
      "permission.created",
      "permission_set.created",
    ]) {
      expect(actions, action).toContain(action);
    }
  });

  it("is for the owner only", async () => {
    await addPerson({ cookie }, "acme", { email: "admin@example.com", role: "org_admin", password: MEMBER_PW });
    const admin = (await api("POST", "/api/session", { body: { email: "admin@example.com", password: MEMBER_PW } }))
      .setCookie!;
    expect((await api("GET", "/api/audit", { cookie: admin })).status).toBe(403);
    expect((await api("GET", "/api/orgs/acme/audit", { cookie: admin })).status).toBe(200);
  });
});
