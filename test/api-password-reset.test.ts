import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PASSWORD_RESET_TTL_MS } from "../worker/accounts/limits";
import { sha256Hex } from "../worker/util/hex";
import { api, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { auditRows } from "./support/audit";
import { addPerson } from "./support/people";

// Issue 11 item 2: nobody sets another person's password. For a lost one the instance owner issues
// a one-time reset link; its holder chooses the new password and every session of the account ends.

const PW = "the first password 1";
const NEW_PW = "a brand new password 2";
let owner: string;
let userId: string;
let userCookie: string;

const issue = (id: string, cookie = owner) => api("POST", `/api/users/${id}/password-reset`, { cookie });
const preview = (secret: string) => api("POST", "/api/password-resets/preview", { body: { secret } });
const complete = (secret: string, password: string) =>
  api("POST", "/api/password-resets/complete", { body: { secret, password } });

beforeAll(async () => {
  await setupOwner({ slug: "acme", name: "Acme" });
  owner = await sudoSession(OWNER.email, OWNER.password);
  const joined = await addPerson({ cookie: owner }, "acme", {
    email: "lost@example.com",
    password: PW,
    role: "org_admin",
  });
  userId = joined.userId;
  userCookie = joined.cookie!;
});

afterEach(() => {
  vi.useRealTimers();
});

describe("password reset links", () => {
  it("only the instance owner issues them, with sudo; an organization admin cannot, nor for the owner", async () => {
    const admin = await sudoSession("lost@example.com", PW);
    const ownerId = (await api("GET", "/api/me", { cookie: owner })).body.user.id;
    expect((await issue(ownerId, admin)).status).toBe(403);
    const fresh = await login(OWNER.email, OWNER.password);
    expect((await issue(userId, fresh)).body.error.code).toBe("sudo_required");
    expect((await issue("no-such-user")).status).toBe(404);
    expect(await auditRows("user.password_reset_issued")).toEqual([]);
  });

  it("a tsr_ link shown once, stored as its SHA-256, valid 24 hours; its holder sets the password and every session ends", async () => {
    const res = await issue(userId);
    expect(res.status).toBe(201);
    const { secret, url, expiresAt } = res.body;
    expect(secret).toMatch(/^tsr_[A-Za-z0-9_-]{43}$/);
    expect(url).toBe(`https://tessera.test/reset#${secret}`);
    const row = await env.DB.prepare("SELECT * FROM password_resets WHERE user_id = ?")
      .bind(userId)
      .first<Record<string, unknown>>();
    expect(row!.secret_hash).toBe(await sha256Hex(secret));
    expect(Date.parse(expiresAt) - (row!.created_at as number)).toBe(PASSWORD_RESET_TTL_MS);
    expect((await preview(secret)).body).toEqual({ email: "lost@example.com", expiresAt });
    // The owner learns nothing more than the link; the password stays as it was until the holder chooses.
    await login("lost@example.com", PW);

    expect((await complete(secret, "short")).status).toBe(422);
    expect((await complete(secret, NEW_PW)).status).toBe(204);
    expect((await api("GET", "/api/me", { cookie: userCookie })).status).toBe(401);
    expect((await api("POST", "/api/session", { body: { email: "lost@example.com", password: PW } })).status).toBe(401);
    await login("lost@example.com", NEW_PW);
    // One use only.
    expect((await complete(secret, "yet another password 3")).status).toBe(404);
    expect((await preview(secret)).status).toBe(404);
    const issued = await auditRows("user.password_reset_issued");
    const used = await auditRows("user.password_reset");
    expect(issued).toEqual([expect.objectContaining({ target_id: userId, actor_type: "user" })]);
    expect(used).toEqual([expect.objectContaining({ target_id: userId, actor_id: userId })]);
    expect(JSON.stringify([...issued, ...used])).not.toContain(secret.slice(4));
    expect(JSON.stringify([...issued, ...used])).not.toContain(NEW_PW);
  });

  it("a newer link replaces an unused older one; an expired link gets the same 404 as a used or made-up one", async () => {
    const first = (await issue(userId)).body.secret;
    const second = (await issue(userId)).body.secret;
    expect((await preview(first)).status).toBe(404);
    expect((await preview(second)).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + PASSWORD_RESET_TTL_MS + 1000);
    const expired = await complete(second, NEW_PW);
    const madeUp = await complete(`tsr_${"B".repeat(43)}`, NEW_PW);
    const superseded = await complete(first, NEW_PW);
    expect([expired.status, madeUp.status, superseded.status]).toEqual([404, 404, 404]);
    expect(new Set([expired, madeUp, superseded].map((r) => JSON.stringify(r.body))).size).toBe(1);
    vi.useRealTimers();
    await login("lost@example.com", NEW_PW);
  });

  it("a person who changes their own password spends a link still waiting for them", async () => {
    const waiting = (await issue(userId)).body.secret;
    const cookie = await login("lost@example.com", NEW_PW);
    const changed = await api("POST", "/api/me/password", {
      cookie,
      body: { currentPassword: NEW_PW, newPassword: "chosen by the person 3" },
    });
    expect(changed.status).toBe(204);
    // The link may have leaked (a chat, a browser's history): after the change it takes nothing over.
    expect((await complete(waiting, "chosen by whoever 4")).status).toBe(404);
    await login("lost@example.com", "chosen by the person 3");
  });
});
