import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { generateTokenSecret } from "../worker/tokens/format";
import { disableToken, revokeToken } from "../worker/tokens/store";
import { docExample } from "./support/doc-examples";
import { makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { viaHandler } from "./support/verify-client";

const TESSERA = "https://tessera.test";
const DAY = 86_400_000;

function introspect(
  token: string | null,
  callerHeaders: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<Response> {
  const form = new URLSearchParams(extra);
  if (token !== null) form.set("token", token);
  return exports.default.fetch(`${TESSERA}/oauth/introspect`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...callerHeaders },
    body: form.toString(),
  });
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

let org: OrgFixture;
let adminCaller: string;
let permittedCaller: string;
let plainCaller: string;

beforeAll(async () => {
  org = await makeOrg();
  adminCaller = (await makeToken(org, { admin: true, permissions: [] })).secret;
  permittedCaller = (await makeToken(org, { permissions: ["tokens:introspect"] })).secret;
  plainCaller = (await makeToken(org, { permissions: ["analysis:read"] })).secret;
});

describe("an active token", () => {
  it("is described with the RFC 7662 fields, in seconds, never cached", async () => {
    const now = Date.now();
    const expiresAt = now + 30 * DAY;
    const subject = await makeToken(
      org,
      { permissions: ["project:browse", "analysis:execute"], expiresAt, projects: [org.projectKeys.alpha] },
      now,
    );
    const row = await env.DB.prepare("SELECT technical_user_id, created_at FROM tokens WHERE id = ?")
      .bind(subject.token.id)
      .first<{ technical_user_id: string; created_at: number }>();

    const res = await introspect(subject.secret, bearer(adminCaller));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({
      active: true,
      scope: "analysis:execute project:browse",
      client_id: row!.technical_user_id,
      token_type: "Bearer",
      exp: Math.floor(expiresAt / 1000),
      iat: Math.floor(row!.created_at / 1000),
      nbf: Math.floor(row!.created_at / 1000),
      sub: row!.technical_user_id,
      aud: org.orgId,
      // The configured ISSUER (wrangler.toml), not the host the request named.
      iss: env.ISSUER,
      jti: subject.token.id,
      kind: "org",
      org: org.orgSlug,
      projects: [org.projectKeys.alpha],
    });
  });

  it("names the person as sub for a personal token, and has no exp when it never expires", async () => {
    const userId = await makeMember(org.orgId, "org_member");
    const subject = await makeToken(org, { kind: "personal", userId, permissions: ["analysis:read"] });
    const res = await introspect(subject.secret, bearer(permittedCaller), { token_type_hint: "access_token" });
    const body = await res.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      active: true,
      token_type: "Bearer",
      kind: "personal",
      sub: userId,
      scope: "analysis:read",
    });
    expect(body).not.toHaveProperty("exp");
  });

  it("answers the documented example with the documented fields (docs/INTEGRATION.md)", async () => {
    // `curl -u "$RESOURCE_SERVER_TOKEN:" -d "token=..."`: Basic with the token as user name, a form body.
    expect(docExample("introspect")).toContain('curl -u "$RESOURCE_SERVER_TOKEN:" -d "token=tso_..."');
    const subject = await makeToken(org, { expiresAt: Date.now() + 30 * DAY, projects: [org.projectKeys.alpha] });
    const res = await exports.default.fetch(`${TESSERA}/oauth/introspect`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${btoa(`${permittedCaller}:`)}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: `token=${subject.secret}`,
    });
    const documented = JSON.parse(docExample("introspection")) as Record<string, unknown>;
    const actual = await res.json<Record<string, unknown>>();
    expect(Object.keys(actual).sort()).toEqual(Object.keys(documented).sort());
    for (const [key, value] of Object.entries(documented)) expect(typeof actual[key], key).toBe(typeof value);
  });

  it("accepts a caller authenticating with HTTP Basic, as OAuth clients do", async () => {
    const subject = await makeToken(org);
    const res = await introspect(subject.secret, { Authorization: `Basic ${btoa(`${permittedCaller}:`)}` });
    expect(await res.json()).toMatchObject({ active: true, jti: subject.token.id });
  });
});

describe("an inactive token", () => {
  it('is exactly {"active":false}, whatever the reason', async () => {
    const now = Date.now();
    const expired = await makeToken(org, { expiresAt: now - DAY }, now - 2 * DAY);
    const disabled = await makeToken(org);
    await disableToken(env, org.orgId, disabled.token.id, testActor, now);
    const revoked = await makeToken(org);
    await revokeToken(env, org.orgId, revoked.token.id, testActor, now);
    const elsewhere = await makeToken(await makeOrg());

    for (const subject of [
      "tso_garbage",
      generateTokenSecret("group"),
      expired.secret,
      disabled.secret,
      revoked.secret,
      elsewhere.secret,
    ]) {
      const res = await introspect(subject, bearer(adminCaller));
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"active":false}');
    }
  });

  it("is what a group token's caller gets for tokens outside its group", async () => {
    const groupAdmin = (await makeToken(org, { kind: "group", groupId: org.groupId, admin: true, permissions: [] }))
      .secret;
    const groupToken = await makeToken(org, {
      kind: "group",
      groupId: org.groupId,
      projects: [org.projectKeys.grouped],
    });
    const orgToken = await makeToken(org);
    expect(await (await introspect(groupToken.secret, bearer(groupAdmin))).json()).toMatchObject({
      active: true,
      kind: "group",
    });
    expect(await (await introspect(orgToken.secret, bearer(groupAdmin))).text()).toBe('{"active":false}');
  });
});

describe("the caller", () => {
  it("is refused with 401 and a WWW-Authenticate challenge when unauthenticated", async () => {
    const subject = await makeToken(org);
    for (const headers of [{}, bearer(generateTokenSecret("org")), bearer("nonsense")]) {
      const res = await introspect(subject.secret, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="tessera"/);
      const body = await res.json<Record<string, unknown>>();
      expect(body).toMatchObject({ error: "invalid_client" });
      expect(body).not.toHaveProperty("active");
    }
    const basic = await introspect(subject.secret, {
      Authorization: `Basic ${btoa(`${generateTokenSecret("org")}:`)}`,
    });
    expect(basic.headers.get("www-authenticate")).toMatch(/^Basic realm="tessera"/);
  });

  it("is refused with 403 when its token is neither admin nor holds tokens:introspect", async () => {
    const subject = await makeToken(org);
    const res = await introspect(subject.secret, bearer(plainCaller));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "insufficient_scope" });
  });

  it("gets 400 invalid_request without a token parameter or without a form body", async () => {
    expect((await introspect(null, bearer(adminCaller))).status).toBe(400);
    const json = await exports.default.fetch(`${TESSERA}/oauth/introspect`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...bearer(adminCaller) },
      body: JSON.stringify({ token: adminCaller }),
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: "invalid_request" });
  });
});

describe("use", () => {
  const usageOf = async (tokenId: string) => ({
    lastUsedAt: (await env.DB.prepare("SELECT last_used_at FROM tokens WHERE id = ?")
      .bind(tokenId)
      .first<{ last_used_at: number | null }>())!.last_used_at,
    addresses: (
      await env.DB.prepare("SELECT ip FROM token_usage WHERE token_id = ?").bind(tokenId).all<{ ip: string }>()
    ).results.map((r) => r.ip),
  });

  it("is counted for the caller's token only: introspecting a token leaves its lastUsedAt and addresses alone", async () => {
    const caller = await makeToken(org, { permissions: ["tokens:introspect"] });
    const subject = await makeToken(org);
    const request = new Request(`${TESSERA}/oauth/introspect`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "CF-Connecting-IP": "192.0.2.77",
        ...bearer(caller.secret),
      },
      body: new URLSearchParams({ token: subject.secret }).toString(),
    });
    // Through the handler, waiting for its after-the-answer work, where usage is written.
    expect(await (await viaHandler(request)).json()).toMatchObject({ active: true, jti: subject.token.id });
    expect(await usageOf(subject.token.id)).toEqual({ lastUsedAt: null, addresses: [] });
    const callerUse = await usageOf(caller.token.id);
    expect(callerUse.lastUsedAt).not.toBeNull();
    expect(callerUse.addresses).toEqual(["192.0.2.77"]);
  });
});
