import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { INVITATION_TTL_MS } from "../worker/accounts/limits";
import { sha256Hex } from "../worker/util/hex";
import { api, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { auditRows } from "./support/audit";
import { countRows } from "./support/cron";
import { addPerson, register } from "./support/people";

// Issue 11 item 2: nobody chooses another person's password. An email with an account is linked;
// any other is invited with a one-time link, and the invitee chooses their own name and password.

const PW = "invitee password 123";
let owner: string;

const invite = (email: string, extra: Record<string, unknown> = {}, org = "acme", cookie = owner) =>
  api("POST", `/api/orgs/${org}/members`, { cookie, body: { email, role: "org_member", ...extra } });
const preview = (secret: string) => api("POST", "/api/invitations/preview", { body: { secret } });

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
  await api("POST", "/api/orgs", { cookie: owner, body: { slug: "globex", name: "Globex" } });
  await api("POST", "/api/orgs/acme/groups", { cookie: owner, body: { slug: "backend", name: "Backend" } });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("adding a member", () => {
  it("refuses a password or a name chosen for someone else (422), and makes no account", async () => {
    const withPassword = await invite("victim@example.com", { password: "chosen by the admin" });
    expect(withPassword.status).toBe(422);
    expect(withPassword.body.error.details.fields.password).toMatch(/does not set another person's password/);
    const withName = await invite("victim@example.com", { name: "Named by admin" });
    expect(withName.status).toBe(422);
    expect(withName.body.error.details.fields.name).toBeDefined();
    expect(await countRows("SELECT count(*) AS n FROM users WHERE email = ?", "victim@example.com")).toBe(0);
    expect(await countRows("SELECT count(*) AS n FROM invitations WHERE email = ?", "victim@example.com")).toBe(0);
  });

  it("invites an unknown email: 202 with a one-time tsi_ link, stored only as its SHA-256, valid 7 days, audited", async () => {
    const before = Date.now();
    const res = await invite("New.Person@Example.com", {
      role: "group_member",
      group: "backend",
      permissions: ["analysis:execute"],
    });
    expect(res.status).toBe(202);
    const { invitation, secret, url } = res.body;
    expect(secret).toMatch(/^tsi_[A-Za-z0-9_-]{43}$/);
    expect(url).toBe(`https://tessera.test/invite#${secret}`);
    expect(invitation).toMatchObject({
      email: "new.person@example.com",
      role: "group_member",
      group: { slug: "backend" },
      permissions: ["analysis:execute"],
    });
    expect(Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt)).toBe(INVITATION_TTL_MS);
    expect(Date.parse(invitation.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    // No account yet: the person makes it.
    expect(await countRows("SELECT count(*) AS n FROM users WHERE email = ?", "new.person@example.com")).toBe(0);
    const row = await env.DB.prepare("SELECT * FROM invitations WHERE id = ?")
      .bind(invitation.id)
      .first<Record<string, unknown>>();
    expect(row!.secret_hash).toBe(await sha256Hex(secret));
    expect(JSON.stringify(row)).not.toContain(secret.slice(4));
    const [audited] = await auditRows("member.invited");
    expect(audited).toMatchObject({ target_type: "invitation", target_id: invitation.id, actor_type: "user" });
    expect(JSON.stringify(audited)).not.toContain(secret.slice(4));
    // Listed as pending; a second invitation for the same email waits for a revoke.
    const list = await api("GET", "/api/orgs/acme/invitations", { cookie: owner });
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([invitation.id]);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect((await invite("new.person@example.com")).status).toBe(409);
  });

  it("links an email that has an account (201) and shows only its id and email, nothing it chose or holds elsewhere", async () => {
    await addPerson({ cookie: owner }, "globex", {
      email: "linked@example.com",
      password: PW,
      role: "org_admin",
      name: "Private Name",
    });
    const res = await invite("linked@example.com");
    expect(res.status).toBe(201);
    expect(Object.keys(res.body.user).sort()).toEqual(["email", "id"]);
    expect(JSON.stringify(res.body)).not.toContain("Private Name");
    expect(JSON.stringify(res.body)).not.toContain("globex");
    const listed = await api("GET", "/api/orgs/acme/members", { cookie: owner });
    expect(JSON.stringify(listed.body)).not.toContain("Private Name");
    expect(
      await countRows(
        "SELECT count(*) AS n FROM invitations i JOIN organizations o ON o.id = i.org_id WHERE i.email = ? AND o.slug = 'acme'",
        "linked@example.com",
      ),
    ).toBe(0);
  });

  it("needs sudo and the organization admin role to invite, list and revoke", async () => {
    const fresh = await login(OWNER.email, OWNER.password);
    expect((await invite("nosudo@example.com", {}, "acme", fresh)).body.error.code).toBe("sudo_required");
    const made = await invite("pending@example.com");
    expect(
      (await api("DELETE", `/api/orgs/acme/invitations/${made.body.invitation.id}`, { cookie: fresh })).body.error.code,
    ).toBe("sudo_required");
    const member = await addPerson({ cookie: owner }, "acme", {
      email: "plain@example.com",
      password: PW,
      role: "org_member",
    });
    expect((await api("GET", "/api/orgs/acme/invitations", { cookie: member.cookie })).status).toBe(403);
    expect((await invite("x@example.com", {}, "acme", member.cookie)).status).toBe(403);
    const stranger = await addPerson({ cookie: owner }, "globex", {
      email: "globex-admin@example.com",
      password: PW,
      role: "org_admin",
    });
    const strangerSudo = await sudoSession("globex-admin@example.com", PW);
    expect(stranger.cookie).toBeDefined();
    expect((await api("GET", "/api/orgs/acme/invitations", { cookie: strangerSudo })).status).toBe(404);
    expect(
      (await api("DELETE", `/api/orgs/acme/invitations/${made.body.invitation.id}`, { cookie: strangerSudo })).status,
    ).toBe(404);
    expect((await preview(made.body.secret)).status).toBe(200);
  });
});

describe("the invitee", () => {
  it("previews the link (organization, email, role, expiry only), registers with their own name and password, and is signed in", async () => {
    const made = await invite("joiner@example.com", { role: "org_admin" });
    const seen = await preview(made.body.secret);
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({
      org: { name: "Acme" },
      group: null,
      email: "joiner@example.com",
      role: "org_admin",
      expiresAt: made.body.invitation.expiresAt,
    });
    const tooShort = await register(made.body.secret, "Joiner", "short");
    expect(tooShort.status).toBe(422);
    expect(tooShort.body.error.details.fields.password).toMatch(/at least 12/);
    const joined = await register(made.body.secret, "Joiner", PW);
    expect(joined.status).toBe(201);
    expect(joined.body.user).toMatchObject({ email: "joiner@example.com", name: "Joiner", isOwner: false });
    expect(joined.body.member).toMatchObject({ role: "org_admin", user: { email: "joiner@example.com" } });
    expect(JSON.stringify(joined.body)).not.toContain(PW);
    const me = await api("GET", "/api/me", { cookie: joined.setCookie! });
    expect(me.body.memberships).toEqual([
      expect.objectContaining({ role: "org_admin", org: expect.objectContaining({ slug: "acme" }) }),
    ]);
    await login("joiner@example.com", PW);
    // Used: every further use gets the one refusal, and the link is no longer listed.
    const again = await register(made.body.secret, "Someone else", "another password 1");
    expect(again.status).toBe(404);
    expect((await preview(made.body.secret)).status).toBe(404);
    const list = await api("GET", "/api/orgs/acme/invitations", { cookie: owner });
    expect(list.body.items.some((i: { id: string }) => i.id === made.body.invitation.id)).toBe(false);
    const [accepted] = (await auditRows("invitation.accepted")).filter((e) => e.target_id === made.body.invitation.id);
    expect(accepted).toMatchObject({ actor_type: "user", actor_id: joined.body.user.id, org_id: expect.any(String) });
  });

  it("expired, revoked, used and made-up links all get the same 404, which does not say which", async () => {
    const revoked = await invite("revoked@example.com");
    expect(
      (await api("DELETE", `/api/orgs/acme/invitations/${revoked.body.invitation.id}`, { cookie: owner })).status,
    ).toBe(204);
    expect(
      (await api("DELETE", `/api/orgs/acme/invitations/${revoked.body.invitation.id}`, { cookie: owner })).status,
    ).toBe(404);
    expect(await auditRows("invitation.revoked")).toEqual([
      expect.objectContaining({ target_id: revoked.body.invitation.id }),
    ]);
    const used = await invite("used@example.com");
    expect((await register(used.body.secret, "Used", PW)).status).toBe(201);
    const expired = await invite("expired@example.com");
    const madeUp = `tsi_${"A".repeat(43)}`;

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + INVITATION_TTL_MS + 1000);
    const answers = [];
    for (const secret of [revoked.body.secret, used.body.secret, expired.body.secret, madeUp]) {
      const p = await preview(secret);
      const r = await register(secret, "Anyone", PW);
      expect([p.status, r.status]).toEqual([404, 404]);
      answers.push(JSON.stringify(p.body), JSON.stringify(r.body));
    }
    expect(new Set(answers).size).toBe(1);
    expect(
      await countRows("SELECT count(*) AS n FROM users WHERE email IN ('revoked@example.com', 'expired@example.com')"),
    ).toBe(0);
  });

  it("two registrations racing on one link make one account", async () => {
    const made = await invite("racer@example.com");
    const results = await Promise.all([register(made.body.secret, "One", PW), register(made.body.secret, "Two", PW)]);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    // The loser either lost the claim (404) or saw the winner's account (409).
    expect([404, 409]).toContain(results.find((r) => r.status !== 201)!.status);
    expect(await countRows("SELECT count(*) AS n FROM users WHERE email = ?", "racer@example.com")).toBe(1);
    expect(
      await countRows(
        "SELECT count(*) AS n FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ?",
        "racer@example.com",
      ),
    ).toBe(1);
    expect(
      (await auditRows("invitation.accepted")).filter((e) => e.target_id === made.body.invitation.id),
    ).toHaveLength(1);
  });

  it("an account made meanwhile must sign in and accept (409); accepting needs that very account's email", async () => {
    const forAcme = await invite("later@example.com", { role: "group_admin", group: "backend" });
    // The same person joins Globex first, through Globex's own invitation.
    const globex = await invite("later@example.com", {}, "globex");
    const joined = await register(globex.body.secret, "Later", PW);
    expect(joined.status).toBe(201);
    const conflict = await register(forAcme.body.secret, "Later", "a different password");
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toMatch(/sign in/i);
    // Someone else's account cannot use the link, even with it in hand.
    const other = await addPerson({ cookie: owner }, "globex", {
      email: "other@example.com",
      password: PW,
      role: "org_member",
    });
    const wrong = await api("POST", "/api/invitations/accept", {
      cookie: other.cookie!,
      body: { secret: forAcme.body.secret },
    });
    expect(wrong.status).toBe(403);
    expect((await preview(forAcme.body.secret)).status).toBe(200);
    // Not signed in: accept is not public.
    expect((await api("POST", "/api/invitations/accept", { body: { secret: forAcme.body.secret } })).status).toBe(401);
    const accepted = await api("POST", "/api/invitations/accept", {
      cookie: joined.setCookie!,
      body: { secret: forAcme.body.secret },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({
      role: "group_admin",
      group: { slug: "backend" },
      user: { email: "later@example.com" },
    });
    const me = await api("GET", "/api/me", { cookie: joined.setCookie! });
    expect(me.body.memberships.map((m: { org: { slug: string } }) => m.org.slug).sort()).toEqual(["acme", "globex"]);
    expect(
      (
        await api("POST", "/api/invitations/accept", {
          cookie: joined.setCookie!,
          body: { secret: forAcme.body.secret },
        })
      ).status,
    ).toBe(404);
    // The password the person chose is still theirs.
    await login("later@example.com", PW);
  });
});

describe("bad input on the public link routes", () => {
  it("answers missing, wrong-typed and malformed bodies with 422, never 500, and secrets in paths with 404", async () => {
    const routes = [
      "/api/invitations/preview",
      "/api/invitations/register",
      "/api/password-resets/preview",
      "/api/password-resets/complete",
    ];
    for (const path of routes) {
      for (const rawBody of ["{}", "[]", "null", '{"secret": 12, "name": [], "password": {}}', '{"secret": "x",']) {
        const res = await api("POST", path, { rawBody });
        expect(res.status, `${path} ${rawBody}`).toBe(422);
        expect(res.body.error.code).toBe("validation_failed");
      }
    }
    expect((await api("POST", "/api/invitations/accept", { cookie: owner, body: {} })).status).toBe(422);
    // Secrets travel in bodies only: there is no route that takes one in its path.
    expect((await api("GET", `/api/invitations/tsi_${"A".repeat(43)}`)).status).toBe(401);
    expect((await api("POST", `/api/invitations/tsi_${"A".repeat(43)}/register`, { body: {} })).status).toBe(401);
  });
});
