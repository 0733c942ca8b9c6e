import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../worker/util/hex";
import { api, confirm, login, OWNER, setupOwner } from "./support/api-client";
import { auditRows } from "./support/audit";
import { addPerson } from "./support/people";

// Your account (docs/API.md "Your account"): your own sessions, listed and signed out one by one or all
// but this one, and the password change that ends every other session. Ids are a prefix of the
// session key's hash, never the cookie; another person's session is a 404.

const ALICE = { email: "alice@acme.test", password: "alice password 1234", role: "org_member" as const };
const BOB = { email: "bob@acme.test", password: "bob password 123456", role: "org_admin" as const };
const FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

const signIn = async (who: { email: string; password: string }, ua: string, ip: string) => {
  const res = await api("POST", "/api/session", { body: who, ip, headers: { "user-agent": ua } });
  if (!res.setCookie) throw new Error(`login failed: ${res.status}`);
  return res.setCookie;
};
const sessionsOf = async (cookie: string) => (await api("GET", "/api/me/sessions", { cookie })).body.items as any[];
const alive = async (cookie: string) => (await api("GET", "/api/me", { cookie })).status === 200;

beforeAll(async () => {
  const owner = (await setupOwner()).cookie;
  await confirm(owner, OWNER.password);
  await addPerson({ cookie: owner }, "acme", ALICE);
  await addPerson({ cookie: owner }, "acme", BOB);
});

describe("your sessions", () => {
  it("lists only your own live sessions, with address, device, created and last activity, the current one marked", async () => {
    const laptop = await signIn(ALICE, FIREFOX, "203.0.113.5");
    const desktop = await signIn(ALICE, CHROME, "203.0.113.6");
    await signIn(BOB, CHROME, "203.0.113.99");
    const items = await sessionsOf(desktop);
    const mine = items.filter((s) => s.ip === "203.0.113.5" || s.ip === "203.0.113.6");
    expect(mine).toHaveLength(2);
    expect(items.some((s) => s.ip === "203.0.113.99")).toBe(false);
    const current = items.find((s) => s.current)!;
    expect(current.ip).toBe("203.0.113.6");
    expect(current.device).toBe("Chrome on Linux");
    expect(items.find((s) => s.ip === "203.0.113.5").device).toBe("Firefox on Windows");
    for (const s of items) {
      expect(s.id).toMatch(/^[0-9a-f]{16}$/);
      expect(Date.parse(s.createdAt)).toBeGreaterThan(0);
      expect(Date.parse(s.lastSeenAt)).toBeGreaterThan(0);
    }
    // The id is neither the cookie nor the session's whole key.
    const body = JSON.stringify(items);
    for (const cookie of [laptop, desktop]) {
      expect(body).not.toContain(cookie);
      expect(body).not.toContain(await sha256Hex(cookie));
    }
  });

  it("signs out one other session; this one, a stranger's or a made-up id is a 404", async () => {
    const a = await signIn(ALICE, FIREFOX, "203.0.113.10");
    const b = await signIn(ALICE, CHROME, "203.0.113.11");
    const bob = await signIn(BOB, CHROME, "203.0.113.12");
    const target = (await sessionsOf(a)).find((s) => s.ip === "203.0.113.11").id;
    const bobsId = (await sessionsOf(bob)).find((s) => s.current).id;
    const ownId = (await sessionsOf(a)).find((s) => s.current).id;
    expect((await api("DELETE", `/api/me/sessions/${bobsId}`, { cookie: a })).status).toBe(404);
    expect(await alive(bob)).toBe(true);
    expect((await api("DELETE", `/api/me/sessions/${ownId}`, { cookie: a })).status).toBe(404);
    expect((await api("DELETE", "/api/me/sessions/0000000000000000", { cookie: a })).status).toBe(404);
    expect((await api("DELETE", "/api/me/sessions/not-an-id", { cookie: a })).status).toBe(422);
    expect((await api("DELETE", `/api/me/sessions/${target}`, { cookie: a })).status).toBe(204);
    expect(await alive(b)).toBe(false);
    expect(await alive(a)).toBe(true);
    expect((await auditRows("session.revoked")).length).toBe(1);
  });

  it("signs out every other session and keeps this one", async () => {
    const keep = await signIn(ALICE, FIREFOX, "203.0.113.20");
    const others = [await signIn(ALICE, CHROME, "203.0.113.21"), await signIn(ALICE, CHROME, "203.0.113.22")];
    const bob = await signIn(BOB, CHROME, "203.0.113.23");
    const res = await api("POST", "/api/me/sessions/sign-out-others", { cookie: keep });
    expect(res.status).toBe(200);
    expect(res.body.ended).toBeGreaterThanOrEqual(2);
    for (const c of others) expect(await alive(c)).toBe(false);
    expect(await alive(keep)).toBe(true);
    expect(await alive(bob)).toBe(true);
    expect(await sessionsOf(keep)).toHaveLength(1);
    expect((await auditRows("session.others_revoked")).length).toBe(1);
  });

  it("is for people: an admin token is refused", async () => {
    const owner = await login(OWNER.email, OWNER.password);
    await confirm(owner, OWNER.password);
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie: owner,
      body: {
        kind: "org",
        name: "sessions bot",
        expiresAt: null,
        projects: "*",
        permissions: ["manage:settings"],
        admin: true,
      },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect((await api("GET", "/api/me/sessions", { token: made.body.secret })).status).toBe(403);
  });
});

describe("changing your password", () => {
  it("needs the current password, ends every other session, keeps this one, and is audited", async () => {
    const here = await signIn(BOB, FIREFOX, "203.0.113.30");
    const elsewhere = await signIn(BOB, CHROME, "203.0.113.31");
    const wrong = await api("POST", "/api/me/password", {
      cookie: here,
      body: { currentPassword: "not bob's password", newPassword: "a brand new password" },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.details.fields.currentPassword).toMatch(/not correct/);
    expect(await alive(elsewhere)).toBe(true);
    const ok = await api("POST", "/api/me/password", {
      cookie: here,
      body: { currentPassword: BOB.password, newPassword: "a brand new password" },
    });
    expect(ok.status).toBe(204);
    expect(await alive(here)).toBe(true);
    expect(await alive(elsewhere)).toBe(false);
    expect((await auditRows("user.password_changed")).length).toBe(1);
    expect((await api("POST", "/api/session", { body: BOB })).status).toBe(401);
    expect(await login(BOB.email, "a brand new password")).toBeTruthy();
  });
});
