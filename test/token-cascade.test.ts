import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { revokeRows } from "../worker/tokens/bulk-revoke";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";
import { bulkTokens } from "./support/bulk-tokens";
import { makeOrg, makeToken, testActor } from "./support/fixtures";

// Issue 11 item 3: a leaked admin token must not leave a foothold that outlives it. Tokens an admin
// token made live only as long as it does: revoking it, deleting it or reporting it leaked revokes
// what it made, and what those made in turn. Tokens people made are untouched.

let owner: string;

async function ownerToken(body: Record<string, unknown>) {
  const res = await api("POST", "/api/orgs/acme/tokens", {
    cookie: owner,
    body: { kind: "org", expiresAt: null, projects: "*", ...body },
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.token.id as string, secret: res.body.secret as string };
}

async function tokenMadeBy(secret: string, body: Record<string, unknown>) {
  const res = await api("POST", "/api/orgs/acme/tokens", {
    token: secret,
    body: { kind: "org", expiresAt: null, projects: "*", ...body },
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.token.id as string, secret: res.body.secret as string };
}

const result = async (secret: string) => (await api("GET", `/v1/verify?session=${secret}`)).body.result as number;
const ADMIN = { admin: true, permissions: ["analysis:execute", "manage:tokens"] };

/** An admin token, the admin token it made, a plain token that one made, and a token a person made. */
let families = 0;
async function family() {
  // Names are unique per owner among live tokens: each family has its own.
  const n = ++families;
  const root = await ownerToken({ name: `terraform ${n}`, ...ADMIN });
  const child = await tokenMadeBy(root.secret, { name: `made by terraform ${n}`, ...ADMIN });
  const grandchild = await tokenMadeBy(child.secret, {
    name: `made by the made one ${n}`,
    permissions: ["analysis:execute"],
  });
  const bystander = await ownerToken({ name: `made by a person ${n}`, permissions: ["analysis:execute"] });
  for (const t of [root, child, grandchild, bystander]) expect(await result(t.secret)).toBe(0);
  return { root, child, grandchild, bystander };
}

beforeAll(async () => {
  owner = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(owner, OWNER.password);
});

describe("tokens made by an admin token", () => {
  it("are revoked with it, down the line, each audited with the reason; a person's token stays", async () => {
    const f = await family();
    expect((await api("POST", `/api/orgs/acme/tokens/${f.root.id}/revoke`, { cookie: owner })).status).toBe(200);
    expect(await result(f.root.secret)).toBe(6);
    expect(await result(f.child.secret)).toBe(6);
    expect(await result(f.grandchild.secret)).toBe(6);
    expect(await result(f.bystander.secret)).toBe(0);
    const events = await env.DB.prepare(
      "SELECT target_id, detail FROM audit_events WHERE action = 'token.revoked' AND target_id IN (?1, ?2)",
    )
      .bind(f.child.id, f.grandchild.id)
      .all<{ target_id: string; detail: string }>();
    expect(events.results).toHaveLength(2);
    for (const e of events.results) expect(JSON.parse(e.detail)).toMatchObject({ reason: "creator_revoked" });
  });

  it("are revoked when it is deleted", async () => {
    const f = await family();
    expect((await api("DELETE", `/api/orgs/acme/tokens/${f.root.id}`, { cookie: owner })).status).toBe(204);
    expect(await result(f.child.secret)).toBe(6);
    expect(await result(f.grandchild.secret)).toBe(6);
    expect(await result(f.bystander.secret)).toBe(0);
  });

  it("are revoked when it is revoked in bulk or reported leaked", async () => {
    const bulk = await family();
    const res = await api("POST", "/api/orgs/acme/tokens/revoke", { cookie: owner, body: { ids: [bulk.root.id] } });
    expect(res.status).toBe(200);
    expect(await result(bulk.child.secret)).toBe(6);
    expect(await result(bulk.grandchild.secret)).toBe(6);

    const leaked = await family();
    const report = await api("POST", "/api/orgs/acme/leaks", {
      cookie: owner,
      body: [{ token: leaked.root.secret, type: "tessera", url: "https://example.com/leak" }],
    });
    expect(report.status).toBe(200);
    expect(await result(leaked.root.secret)).toBe(6);
    expect(await result(leaked.child.secret)).toBe(6);
    expect(await result(leaked.grandchild.secret)).toBe(6);
    expect(await result(leaked.bystander.secret)).toBe(0);
  });

  it("are not revoked when it is only disabled or regenerated", async () => {
    const f = await family();
    expect((await api("POST", `/api/orgs/acme/tokens/${f.root.id}/disable`, { cookie: owner })).status).toBe(200);
    expect((await api("POST", `/api/orgs/acme/tokens/${f.root.id}/regenerate`, { cookie: owner })).status).toBe(200);
    expect(await result(f.child.secret)).toBe(0);
    expect(await result(f.grandchild.secret)).toBe(0);
  });
});

describe("a secret an admin token issued", () => {
  it("dies with that token: a person's token it regenerated is revoked with it, old secret and new", async () => {
    const n = ++families;
    const leaked = await ownerToken({ name: `automation ${n}`, ...ADMIN });
    const victim = await ownerToken({ name: `prod ci ${n}`, permissions: ["analysis:execute"] });
    // With a week's grace, the person's own secret keeps working: they would notice nothing.
    const regen = await api("POST", `/api/orgs/acme/tokens/${victim.id}/regenerate`, {
      token: leaked.secret,
      body: { graceSeconds: 604_800 },
    });
    expect(regen.status).toBe(200);
    expect(await result(regen.body.secret)).toBe(0);
    expect(await result(victim.secret)).toBe(0);
    expect((await api("POST", `/api/orgs/acme/tokens/${leaked.id}/revoke`, { cookie: owner })).status).toBe(200);
    expect(await result(regen.body.secret)).toBe(6);
    expect(await result(victim.secret)).toBe(6);
    const event = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE action = 'token.revoked' AND target_id = ?1",
    )
      .bind(victim.id)
      .first<{ detail: string }>();
    expect(JSON.parse(event!.detail)).toMatchObject({ reason: "secret_issuer_revoked", issuer: leaked.id });
  });

  it("dies with it while it verifies as the replaced secret of a person's later regenerate", async () => {
    const n = ++families;
    const leaked = await ownerToken({ name: `key roller ${n}`, ...ADMIN });
    const victim = await ownerToken({ name: `nightly ${n}`, permissions: ["analysis:execute"] });
    const path = `/api/orgs/acme/tokens/${victim.id}/regenerate`;
    const planted = await api("POST", path, { token: leaked.secret, body: {} });
    // A routine rotation by a person, with a grace: the planted secret keeps verifying meanwhile.
    const mine = await api("POST", path, { cookie: owner, body: { graceSeconds: 86_400 } });
    expect(await result(planted.body.secret)).toBe(0);
    expect((await api("POST", `/api/orgs/acme/tokens/${leaked.id}/revoke`, { cookie: owner })).status).toBe(200);
    expect(await result(planted.body.secret)).toBe(6);
    expect(await result(mine.body.secret)).toBe(6);
  });

  it("stops counting once a person issues the next one", async () => {
    const n = ++families;
    const leaked = await ownerToken({ name: `rotator ${n}`, ...ADMIN });
    const victim = await ownerToken({ name: `deploy ${n}`, permissions: ["analysis:execute"] });
    const path = `/api/orgs/acme/tokens/${victim.id}/regenerate`;
    expect((await api("POST", path, { token: leaked.secret, body: {} })).status).toBe(200);
    const mine = await api("POST", path, { cookie: owner, body: {} });
    expect(mine.status).toBe(200);
    expect((await api("POST", `/api/orgs/acme/tokens/${leaked.id}/revoke`, { cookie: owner })).status).toBe(200);
    expect(await result(mine.body.secret)).toBe(0);
  });
});

describe("the cascade's reads", () => {
  it("stay with the tokens a creator is tied to, however many tokens the organization has", async () => {
    const org = await makeOrg();
    await bulkTokens(org, 3_000);
    const creator = await makeToken(org, { admin: true, permissions: ["manage:tokens"] });
    await makeToken(org);
    let rowsRead = 0;
    const counted = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch")
          return async (statements: D1PreparedStatement[]) => {
            const results = await target.batch(statements);
            for (const r of results) rowsRead += r.meta.rows_read;
            return results;
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const session = counted as unknown as D1DatabaseSession;
    await revokeRows(session, org.orgId, { createdBy: [creator.token.id] }, testActor, Date.now());
    // Three statements over a handful of index entries each; walking the organization reads thousands.
    expect(rowsRead).toBeLessThan(100);
  });
});
