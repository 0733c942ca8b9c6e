import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SESSION_COOKIE, SESSION_IDLE_MS, SUDO_WINDOW_MS } from "../worker/accounts/limits";
import { sha256Hex } from "../worker/util/hex";
import { api, confirm, login, OWNER, SETUP_TOKEN, setupOwner } from "./support/api-client";
import { makeOrg, makeToken } from "./support/fixtures";

afterEach(() => {
  vi.useRealTimers();
});

describe("first run", () => {
  const claim = { email: "mallory@evil.example", password: "mallory owns this now", org: { slug: "pwned", name: "P" } };

  it("is refused to whoever does not hold the deployment's SETUP_TOKEN, before anything is read", async () => {
    const refusals = [
      await api("POST", "/api/setup", { body: claim }),
      await api("POST", "/api/setup", { body: { ...claim, setupToken: "a guess at the setup token" } }),
      await api("POST", "/api/setup", { body: { ...claim, setupToken: SETUP_TOKEN.slice(0, -1) } }),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(403);
      expect(res.body.error.details.fields.setupToken).toBeTruthy();
    }
    // A deployment without the secret, or with one too short to stand guessing, cannot be set up at all.
    for (const configured of [undefined, "short"]) {
      const bindings = { ...env, SETUP_TOKEN: configured } as unknown as Env;
      const locked = await api("POST", "/api/setup", { body: { ...claim, setupToken: configured ?? "" }, bindings });
      expect(locked.status).toBe(403);
      expect(locked.body.error.message).toMatch(/SETUP_TOKEN/);
    }
    expect(await env.DB.prepare("SELECT 1 FROM users").first()).toBeNull();
  });

  it("says setup is needed, runs it once, then refuses a second run with 409", async () => {
    expect((await api("GET", "/api/setup")).body).toEqual({ needed: true });
    const first = await api("POST", "/api/setup", {
      body: {
        email: "Owner@Example.com",
        password: OWNER.password,
        org: { slug: "acme", name: "Acme" },
        setupToken: SETUP_TOKEN,
      },
    });
    expect(first.status).toBe(201);
    expect(first.body.user).toMatchObject({ email: "owner@example.com", isOwner: true });
    expect(first.body.org).toMatchObject({ slug: "acme", name: "Acme" });
    expect(first.setCookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await api("GET", "/api/setup")).body).toEqual({ needed: false });

    const again = await api("POST", "/api/setup", {
      body: {
        email: "mallory@example.com",
        password: "another long password",
        org: { slug: "evil", name: "Evil" },
        setupToken: SETUP_TOKEN,
      },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("conflict");
    const users = await env.DB.prepare("SELECT email FROM users").all<{ email: string }>();
    expect(users.results.map((u) => u.email)).toEqual(["owner@example.com"]);
    const orgs = await env.DB.prepare("SELECT slug FROM organizations").all<{ slug: string }>();
    expect(orgs.results.map((o) => o.slug)).toEqual(["acme"]);
  });

  it("stores the password as PBKDF2 with a per-user salt and 100000 iterations, never in clear", async () => {
    const row = await env.DB.prepare("SELECT * FROM users WHERE email = ?")
      .bind(OWNER.email)
      .first<Record<string, unknown>>();
    expect(row!.password_iterations).toBe(100000);
    expect(String(row!.password_salt)).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(JSON.stringify(row)).not.toContain(OWNER.password);
  });

  it("records setup in the audit log", async () => {
    const events = await env.DB.prepare("SELECT action FROM audit_events ORDER BY id").all<{ action: string }>();
    expect(events.results.map((e) => e.action)).toEqual(expect.arrayContaining(["setup.completed", "org.created"]));
  });
});

describe("login and the session cookie", () => {
  it("sets an HttpOnly, Secure, SameSite=Strict cookie and stores only its hash", async () => {
    const res = await api("POST", "/api/session", { body: { email: OWNER.email, password: OWNER.password } });
    expect(res.status).toBe(200);
    const line = res.headers.getSetCookie().find((l) => l.startsWith(`${SESSION_COOKIE}=`))!;
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/Secure/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).toMatch(/Path=\//);
    const cookie = res.setCookie!;
    expect(await env.DB.prepare("SELECT 1 FROM sessions WHERE id = ?").bind(cookie).first()).toBeNull();
    expect(
      await env.DB.prepare("SELECT 1 FROM sessions WHERE id = ?")
        .bind(await sha256Hex(cookie))
        .first(),
    ).not.toBeNull();
    const me = await api("GET", "/api/me", { cookie });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ type: "user", user: { email: OWNER.email, isOwner: true } });
    expect(me.body.memberships).toEqual([
      expect.objectContaining({
        role: "org_admin",
        org: expect.objectContaining({ slug: "acme", name: "Acme" }),
        group: null,
      }),
    ]);
  });

  it("rotates the session on login: the session the request came with ends", async () => {
    const first = await login(OWNER.email, OWNER.password);
    const res = await api("POST", "/api/session", {
      cookie: first,
      body: { email: OWNER.email, password: OWNER.password },
    });
    expect(res.status).toBe(200);
    expect(res.setCookie).not.toBe(first);
    expect((await api("GET", "/api/me", { cookie: first })).status).toBe(401);
    expect((await api("GET", "/api/me", { cookie: res.setCookie! })).status).toBe(200);
  });

  it("refuses a wrong password and an unknown email with the same 401", async () => {
    const wrong = await api("POST", "/api/session", {
      body: { email: OWNER.email, password: "not the password" },
      ip: "198.51.100.1",
    });
    const unknown = await api("POST", "/api/session", {
      body: { email: "nobody@example.com", password: "whatever it is" },
      ip: "198.51.100.1",
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.setCookie).toBeNull();
  });

  it("a logged-out cookie is dead", async () => {
    const cookie = await login(OWNER.email, OWNER.password);
    const out = await api("DELETE", "/api/session", { cookie });
    expect(out.status).toBe(204);
    expect(out.setCookie).toBe("");
    expect(
      await env.DB.prepare("SELECT 1 FROM sessions WHERE id = ?")
        .bind(await sha256Hex(cookie))
        .first(),
    ).toBeNull();
    const after = await api("GET", "/api/me", { cookie });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("unauthenticated");
  });

  it("expires an idle session and keeps an active one alive", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const cookie = await login(OWNER.email, OWNER.password);
    const active = await login(OWNER.email, OWNER.password);
    vi.setSystemTime(start + SESSION_IDLE_MS / 2);
    expect((await api("GET", "/api/me", { cookie: active })).status).toBe(200);
    vi.setSystemTime(start + SESSION_IDLE_MS + 1000);
    expect((await api("GET", "/api/me", { cookie })).status).toBe(401);
    expect((await api("GET", "/api/me", { cookie: active })).status).toBe(200);
  });

  it("answers 401 without a cookie, with an unknown cookie, and for a token in the URL", async () => {
    expect((await api("GET", "/api/me")).status).toBe(401);
    expect((await api("GET", "/api/me", { cookie: "made-up" })).status).toBe(401);
    const inUrl = await api("GET", "/api/me?session=tso_000000000000000000000000000000000000");
    expect(inUrl.status).toBe(401);
    expect(inUrl.body.error.message).toMatch(/URL/);
  });
});

describe("CSRF", () => {
  it("refuses a cookie caller's unsafe request without our Origin, and accepts it with", async () => {
    const cookie = await login(OWNER.email, OWNER.password);
    const none = await api("POST", "/api/session/confirm", {
      cookie,
      origin: null,
      body: { password: OWNER.password },
    });
    expect(none.status).toBe(403);
    expect(none.body.error.code).toBe("forbidden");
    const foreign = await api("POST", "/api/session/confirm", {
      cookie,
      origin: "https://evil.example",
      body: { password: OWNER.password },
    });
    expect(foreign.status).toBe(403);
    const ours = await api("POST", "/api/session/confirm", { cookie, body: { password: OWNER.password } });
    expect(ours.status).toBe(200);
  });

  it("refuses a login posted from another site", async () => {
    const res = await api("POST", "/api/session", {
      origin: "https://evil.example",
      body: { email: OWNER.email, password: OWNER.password },
    });
    expect(res.status).toBe(403);
    expect(res.setCookie).toBeNull();
  });
});

describe("sudo", () => {
  it("is granted for 5 minutes by the password, and refused for a wrong one", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const cookie = await login(OWNER.email, OWNER.password);
    expect((await api("GET", "/api/me", { cookie })).body.sudoUntil).toBeNull();
    const bad = await api("POST", "/api/session/confirm", {
      cookie,
      body: { password: "wrong password!" },
      ip: "198.51.100.77",
    });
    expect(bad.status).toBe(403);
    expect((await api("GET", "/api/me", { cookie })).body.sudoUntil).toBeNull();
    await confirm(cookie, OWNER.password);
    expect((await api("GET", "/api/me", { cookie })).body.sudoUntil).toBe(
      new Date(start + SUDO_WINDOW_MS).toISOString(),
    );
    vi.setSystemTime(start + SUDO_WINDOW_MS + 1);
    expect((await api("GET", "/api/me", { cookie })).body.sudoUntil).toBeNull();
  });
});

describe("login throttling", () => {
  it("answers 429 after repeated failures for one email from one network, even to the right password, with Retry-After", async () => {
    const email = OWNER.email;
    for (let i = 0; i < 5; i++) {
      const res = await api("POST", "/api/session", {
        body: { email, password: `wrong-${i}-password` },
        ip: "192.0.2.10",
      });
      expect(res.status).toBe(401);
    }
    const blocked = await api("POST", "/api/session", { body: { email, password: OWNER.password }, ip: "192.0.2.10" });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe("rate_limited");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(blocked.setCookie).toBeNull();
  });

  it("lets the email in again once the window has passed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 16 * 60 * 1000);
    expect((await api("POST", "/api/session", { body: { email: OWNER.email, password: OWNER.password } })).status).toBe(
      200,
    );
  });

  it("counts failures per client address across emails", async () => {
    const ip = "203.0.113.200";
    let last = 0;
    for (let i = 0; i < 31; i++) {
      last = (
        await api("POST", "/api/session", { body: { email: `spray${i}@example.com`, password: "password-guess" }, ip })
      ).status;
    }
    expect(last).toBe(429);
    const audit = await env.DB.prepare("SELECT detail FROM audit_events WHERE action = 'session.login_failed'").all<{
      detail: string;
    }>();
    expect(audit.results.length).toBeGreaterThan(30);
    expect(audit.results.every((r) => !r.detail.includes("password-guess"))).toBe(true);
  });
});

describe("password change", () => {
  it("needs the current password, ends other sessions, and the new password works", async () => {
    const keep = await login(OWNER.email, OWNER.password);
    const other = await login(OWNER.email, OWNER.password);
    const wrong = await api("POST", "/api/me/password", {
      cookie: keep,
      body: { currentPassword: "nope nope nope", newPassword: "a brand new password" },
    });
    expect(wrong.status).toBe(403);
    const short = await api("POST", "/api/me/password", {
      cookie: keep,
      body: { currentPassword: OWNER.password, newPassword: "short" },
    });
    expect(short.status).toBe(422);
    expect(short.body.error.details.fields.newPassword).toBeDefined();
    const ok = await api("POST", "/api/me/password", {
      cookie: keep,
      body: { currentPassword: OWNER.password, newPassword: "a brand new password" },
    });
    expect(ok.status).toBe(204);
    expect((await api("GET", "/api/me", { cookie: keep })).status).toBe(200);
    expect((await api("GET", "/api/me", { cookie: other })).status).toBe(401);
    expect((await api("POST", "/api/session", { body: { email: OWNER.email, password: OWNER.password } })).status).toBe(
      401,
    );
    expect(
      (await api("POST", "/api/session", { body: { email: OWNER.email, password: "a brand new password" } })).status,
    ).toBe(200);
    const event = await env.DB.prepare("SELECT detail FROM audit_events WHERE action = 'user.password_changed'").first<{
      detail: string;
    }>();
    expect(event!.detail).not.toContain("brand new");
  });
});

describe("secure headers", () => {
  it("sets nosniff, no-referrer, frame-ancestors 'none' and no-store on answers and errors", async () => {
    const admin = (await makeToken(await makeOrg(), { admin: true })).secret;
    // Authentication runs before routing for every non-public /api path: a stranger gets 401 even
    // for a path that does not exist, and learns nothing about which paths do.
    const unknownToStranger = await api("GET", "/api/nothing-here");
    const unknownToCaller = await api("GET", "/api/nothing-here", { token: admin });
    for (const res of [
      await api("GET", "/api/setup"),
      await api("GET", "/api/me"),
      unknownToStranger,
      unknownToCaller,
    ]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    expect(unknownToStranger.status).toBe(401);
    expect(unknownToStranger.body.error.code).toBe("unauthenticated");
    expect(unknownToCaller.status).toBe(404);
    expect(unknownToCaller.body).toEqual({ error: { code: "not_found", message: expect.any(String) } });
  });
});

// Kept apart so it does not depend on the order above: setupOwner refuses when setup already ran.
it("setupOwner helper is not usable twice in one file", async () => {
  await expect(setupOwner()).rejects.toThrow(/409/);
});
