import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CONFIRM_MAX_FAILURES_PER_SESSION } from "../worker/accounts/limits";
import { DAY_MS, HOUR_MS, TOKEN_MAX_LIFETIME_MS } from "../worker/limits";
import { api, confirm, login, OWNER, setupOwner } from "./support/api-client";
import { makeOrg, makeToken } from "./support/fixtures";

// What the console's daily work needs from the token API (issue 16): renewal with a new expiry, the
// longest lifetime, names unique per owner, bulk disable and enable, sorted lists with per-status
// counts, and a password prompt that says how many tries are left.

let cookie: string;
const verify = (secret: string) => api("GET", `/v1/verify?session=${secret}`);
let seq = 0;
const tokenBody = (over: Record<string, unknown> = {}) => ({
  kind: "org",
  name: `token ${++seq}`,
  expiresAt: null,
  projects: "*",
  permissions: ["analysis:execute"],
  ...over,
});
const make = async (over: Record<string, unknown> = {}) => {
  const res = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody(over) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { token: { id: string; name: string }; secret: string };
};
const iso = (ms: number) => new Date(ms).toISOString();

afterEach(() => {
  vi.useRealTimers();
});

beforeAll(async () => {
  cookie = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(cookie, OWNER.password);
  await api("POST", "/api/orgs/acme/groups", { cookie, body: { slug: "ops", name: "Ops" } });
});

describe("renewal: regenerate with a new expiry", () => {
  it("gives an expired token a new secret and a new expiry, and it verifies again", async () => {
    const made = await make({ expiresAt: iso(Date.now() + HOUR_MS) });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2 * HOUR_MS);
    await confirm(cookie, OWNER.password);
    expect((await api("GET", `/api/orgs/acme/tokens/${made.token.id}`, { cookie })).body.status).toBe("expired");
    const renewed = await api("POST", `/api/orgs/acme/tokens/${made.token.id}/regenerate`, {
      cookie,
      body: { expiresAt: iso(Date.now() + 30 * DAY_MS) },
    });
    expect(renewed.status, JSON.stringify(renewed.body)).toBe(200);
    expect(renewed.body.token.status).toBe("active");
    expect(renewed.body.token.expiresAt).toBe(iso(Date.now() + 30 * DAY_MS));
    expect((await verify(renewed.body.secret)).body.valid).toBe(true);
    expect((await verify(made.secret)).body.valid).toBe(false);
  });

  it("can make a token never expire, and keeps the expiry without a body", async () => {
    const made = await make({ expiresAt: iso(Date.now() + DAY_MS) });
    const never = await api("POST", `/api/orgs/acme/tokens/${made.token.id}/regenerate`, {
      cookie,
      body: { expiresAt: null },
    });
    expect(never.body.token.expiresAt).toBeNull();
    const kept = await api("POST", `/api/orgs/acme/tokens/${made.token.id}/regenerate`, { cookie });
    expect(kept.status).toBe(200);
    expect(kept.body.token.expiresAt).toBeNull();
  });

  it("refuses a past expiry or one beyond the longest lifetime, beside the field", async () => {
    const made = await make();
    for (const expiresAt of [iso(Date.now() - 1000), iso(Date.now() + TOKEN_MAX_LIFETIME_MS + DAY_MS)]) {
      const res = await api("POST", `/api/orgs/acme/tokens/${made.token.id}/regenerate`, {
        cookie,
        body: { expiresAt },
      });
      expect(res.status, expiresAt).toBe(422);
      expect(res.body.error.details.fields.expiresAt).toBeDefined();
    }
  });
});

describe("the longest lifetime", () => {
  it("refuses a token expiring in 2999 and takes one at the limit", async () => {
    const far = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ expiresAt: "2999-12-31T23:59:59Z" }),
    });
    expect(far.status).toBe(422);
    expect(far.body.error.details.fields.expiresAt).toMatch(/no later than/);
    await make({ expiresAt: iso(Date.now() + TOKEN_MAX_LIFETIME_MS - HOUR_MS) });
  });
});

describe("token names", () => {
  it("are unique per owner: a second live token of the organization with the name gets 409", async () => {
    await make({ name: "deploy" });
    const again = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody({ name: "deploy" }) });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/“deploy” already exists/);
    expect(again.body.error.details.fields.name).toBeDefined();
  });

  it("may repeat across owners, and once the first is revoked", async () => {
    const first = await make({ name: "nightly" });
    await make({ name: "nightly", kind: "group", group: "ops" });
    await api("POST", `/api/orgs/acme/tokens/${first.token.id}/revoke`, { cookie });
    await make({ name: "nightly" });
  });

  it("refuse a rename onto another token's name, and a copy named like it", async () => {
    const a = await make({ name: "alpha" });
    const b = await make({ name: "beta" });
    const rename = await api("PATCH", `/api/orgs/acme/tokens/${b.token.id}`, { cookie, body: { name: "alpha" } });
    expect(rename.status).toBe(409);
    const same = await api("PATCH", `/api/orgs/acme/tokens/${a.token.id}`, { cookie, body: { name: "alpha" } });
    expect(same.status).toBe(200);
    const copy = await api("POST", `/api/orgs/acme/tokens/${a.token.id}/copy`, { cookie, body: { name: "beta" } });
    expect(copy.status).toBe(409);
  });
});

describe("bulk disable and enable", () => {
  it("disables and enables many tokens at once, reporting unknown and revoked ones", async () => {
    const a = await make();
    const b = await make();
    const dead = await make();
    await api("POST", `/api/orgs/acme/tokens/${dead.token.id}/revoke`, { cookie });
    const ids = [a.token.id, b.token.id, dead.token.id, "no-such-token"];
    const off = await api("POST", "/api/orgs/acme/tokens/disable", { cookie, body: { ids } });
    expect(off.status).toBe(200);
    expect(off.body).toEqual({
      changed: [a.token.id, b.token.id],
      notFound: ["no-such-token"],
      skipped: [dead.token.id],
    });
    expect((await verify(a.secret)).body.error).toBe("token_disabled");
    const on = await api("POST", "/api/orgs/acme/tokens/enable", { cookie, body: { ids: [a.token.id, b.token.id] } });
    expect(on.body.changed).toEqual([a.token.id, b.token.id]);
    expect((await verify(b.secret)).body.valid).toBe(true);
  });

  it("works on one's own personal tokens", async () => {
    const mine = await api("POST", "/api/me/tokens", {
      cookie,
      body: { ...tokenBody(), kind: undefined, org: "acme" },
    });
    const off = await api("POST", "/api/me/tokens/disable", { cookie, body: { ids: [mine.body.token.id] } });
    expect(off.body.changed).toEqual([mine.body.token.id]);
  });
});

describe("sorted lists and per-status counts", () => {
  it("sorts by name both ways across pages, and by expiry with never last", async () => {
    const names = ["sort-c", "sort-a", "sort-b"];
    for (const name of names) await make({ name, expiresAt: name === "sort-a" ? null : iso(Date.now() + DAY_MS * 20) });
    const page = async (query: string) => {
      const out: string[] = [];
      let cursor = "";
      do {
        const res = await api("GET", `/api/orgs/acme/tokens?q=sort-&limit=2&${query}${cursor && `&cursor=${cursor}`}`, {
          cookie,
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        out.push(...res.body.items.map((t: { name: string }) => t.name));
        cursor = res.body.next ?? "";
      } while (cursor);
      return out;
    };
    expect(await page("sort=name&order=asc")).toEqual(["sort-a", "sort-b", "sort-c"]);
    expect(await page("sort=name&order=desc")).toEqual(["sort-c", "sort-b", "sort-a"]);
    expect((await page("sort=expires&order=asc")).at(-1)).toBe("sort-a");
    expect((await api("GET", "/api/orgs/acme/tokens?sort=bogus", { cookie })).status).toBe(422);
  });

  it("sorts by status, active first, and counts each status for the same search", async () => {
    const live = await make({ name: "count-live" });
    const off = await make({ name: "count-off" });
    const soon = await make({ name: "count-soon", expiresAt: iso(Date.now() + DAY_MS) });
    await api("POST", `/api/orgs/acme/tokens/${off.token.id}/disable`, { cookie });
    const sorted = await api("GET", "/api/orgs/acme/tokens?q=count-&sort=status&order=asc", { cookie });
    expect(sorted.body.items.map((t: { id: string }) => t.id)).toEqual([live.token.id, soon.token.id, off.token.id]);
    const counts = await api("GET", "/api/orgs/acme/tokens/counts?q=count-", { cookie });
    expect(counts.body).toEqual({ active: 1, expiring: 1, expired: 0, disabled: 1, revoked: 0 });
  });
});

describe("the password prompt", () => {
  it("says how many tries are left, and pauses confirmations, not sign-in", async () => {
    const session = await login(OWNER.email, OWNER.password, "198.51.100.40");
    const confirmWith = (password: string) =>
      api("POST", "/api/session/confirm", { cookie: session, body: { password }, ip: "198.51.100.40" });
    const first = await confirmWith("typo password 1");
    expect(first.status).toBe(403);
    expect(first.body.error.details.attemptsLeft).toBe(CONFIRM_MAX_FAILURES_PER_SESSION - 1);
    expect(first.body.error.message).toMatch(/4 tries left/);
    expect(first.body.error.details.fields.password).toBeDefined();
    for (let i = 2; i <= CONFIRM_MAX_FAILURES_PER_SESSION; i++) await confirmWith(`typo password ${i}`);
    const paused = await confirmWith(OWNER.password);
    expect(paused.status).toBe(429);
    expect(paused.body.error.message).toMatch(/try again in 15 minutes\./);
    expect(
      (
        await api("POST", "/api/session", {
          body: { email: OWNER.email, password: OWNER.password },
          ip: "198.51.100.40",
        })
      ).status,
    ).toBe(200);
  });
});

describe("migration 0006 on an instance that already has tokens sharing a name", () => {
  it("keeps the oldest token's name, suffixes the later ones with their id, then enforces the index", async () => {
    await env.DB.prepare("DROP INDEX tokens_owner_name").run();
    const org = await makeOrg();
    const made = Date.now() - DAY_MS;
    const first = await makeToken(org, { name: "deploy" }, made);
    const second = await makeToken(org, { name: "deploy" }, made + 1);
    const revoked = await makeToken(org, { name: "deploy" }, made + 2);
    await env.DB.prepare("UPDATE tokens SET revoked_at = ?1 WHERE id = ?2")
      .bind(made + 3, revoked.token.id)
      .run();
    const long = "x".repeat(100);
    await makeToken(org, { name: long }, made);
    const longCopy = await makeToken(org, { name: long }, made + 1);

    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0006_"));
    expect(migration?.name).toBe("0006_unique_token_names.sql");
    for (const query of migration!.queries) await env.DB.prepare(query).run();

    const nameOf = async (id: string) =>
      (await env.DB.prepare("SELECT name FROM tokens WHERE id = ?1").bind(id).first<{ name: string }>())!.name;
    expect(await nameOf(first.token.id)).toBe("deploy");
    expect(await nameOf(second.token.id)).toBe(`deploy (${second.token.id.slice(0, 8)})`);
    // A revoked token frees its name: it is not renamed.
    expect(await nameOf(revoked.token.id)).toBe("deploy");
    const renamed = await nameOf(longCopy.token.id);
    expect(renamed.length).toBeLessThanOrEqual(100);
    expect(renamed.endsWith(`(${longCopy.token.id.slice(0, 8)})`)).toBe(true);
    await expect(makeToken(org, { name: "deploy" })).rejects.toMatchObject({ code: "conflict" });
  });
});
