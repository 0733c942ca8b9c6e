import { env, exports } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, it } from "vitest";
import { generateTokenSecret } from "../worker/tokens/format";
import { revokeToken } from "../worker/tokens/store";
import { api } from "./support/api-client";
import { makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { ORIGIN, viaHandler } from "./support/verify-client";

// Stock OAuth clients, as their documentation says to use them: oauth4webapi's README, with the
// worker's own fetch in place of the network and the local issuer from wrangler.toml (http, which
// oauth4webapi refuses unless told otherwise: allowInsecureRequests).
const issuer = new URL(env.ISSUER);
const transport = {
  [oauth.customFetch]: (url: string, init: RequestInit) => exports.default.fetch(url, init),
  [oauth.allowInsecureRequests]: true,
};

async function discover(): Promise<oauth.AuthorizationServer> {
  const response = await oauth.discoveryRequest(issuer, { ...transport, algorithm: "oauth2" });
  return oauth.processDiscoveryResponse(issuer, response);
}

let org: OrgFixture;
let server: { id: string; secret: string };

beforeAll(async () => {
  org = await makeOrg();
  const made = await makeToken(org, { permissions: ["tokens:introspect"] });
  server = { id: made.token.id, secret: made.secret };
});

describe("RFC 8414 metadata", () => {
  it("is discovered by oauth4webapi from the configured ISSUER, whatever host the request named", async () => {
    const as = await discover();
    expect(as.issuer).toBe(env.ISSUER);
    expect(as.introspection_endpoint).toBe(`${env.ISSUER}/oauth/introspect`);
    expect(as.revocation_endpoint).toBe(`${env.ISSUER}/oauth/revoke`);
    expect(as.introspection_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post"]);
    expect(as.revocation_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post"]);
    const elsewhere = await exports.default.fetch("https://attacker.example/.well-known/oauth-authorization-server");
    expect((await elsewhere.json<{ issuer: string }>()).issuer).toBe(env.ISSUER);
  });

  it("is the only document under /.well-known/: every other path is a JSON 404, never the console", async () => {
    for (const path of [
      "/.well-known/openid-configuration",
      "/.well-known/oauth-protected-resource",
      "/.well-known/",
      "/.well-known",
    ]) {
      const res = await exports.default.fetch(`${ORIGIN}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type"), path).toMatch(/^application\/json/);
      expect(await res.json(), path).toMatchObject({ error: "not_found" });
    }
  });
});

describe("introspection with oauth4webapi", () => {
  const DAY = 86_400_000;

  it("accepts ClientSecretBasic(id, secret) and answers the RFC 7662 fields in their standard meaning", async () => {
    const as = await discover();
    const now = Date.now();
    const subject = await makeToken(org, { expiresAt: now + 30 * DAY, projects: [org.projectKeys.alpha] }, now);
    const row = await env.DB.prepare("SELECT technical_user_id, created_at FROM tokens WHERE id = ?")
      .bind(subject.token.id)
      .first<{ technical_user_id: string; created_at: number }>();
    const response = await oauth.introspectionRequest(
      as,
      { client_id: server.id },
      oauth.ClientSecretBasic(server.secret),
      subject.secret,
      transport,
    );
    const answer = await oauth.processIntrospectionResponse(as, { client_id: server.id }, response);
    const seconds = (ms: number) => Math.floor(ms / 1000);
    expect(answer).toEqual({
      active: true,
      jti: subject.token.id,
      token_type: "Bearer",
      client_id: row!.technical_user_id,
      sub: row!.technical_user_id,
      aud: org.orgId,
      iss: env.ISSUER,
      iat: seconds(row!.created_at),
      nbf: seconds(row!.created_at),
      exp: seconds(now + 30 * DAY),
      scope: "analysis:execute project:browse",
      kind: "org",
      org: org.orgSlug,
      projects: [org.projectKeys.alpha],
    });
  });

  it("accepts ClientSecretPost, and names the person of a personal token as client_id and username", async () => {
    const as = await discover();
    const userId = await makeMember(org.orgId, "org_member");
    const email = (await env.DB.prepare("SELECT email FROM users WHERE id = ?")
      .bind(userId)
      .first<{ email: string }>())!.email;
    const subject = await makeToken(org, { kind: "personal", userId, permissions: ["analysis:read"] });
    const response = await oauth.introspectionRequest(
      as,
      { client_id: server.id },
      oauth.ClientSecretPost(server.secret),
      subject.secret,
      transport,
    );
    expect(await oauth.processIntrospectionResponse(as, { client_id: server.id }, response)).toMatchObject({
      active: true,
      client_id: userId,
      username: email,
      sub: userId,
      jti: subject.token.id,
      kind: "personal",
    });
  });

  it("refuses a client_id that is not the secret's token id, with a Basic challenge for Basic", async () => {
    const as = await discover();
    const other = await makeToken(org, { permissions: ["tokens:introspect"] });
    const subject = await makeToken(org);
    for (const auth of [oauth.ClientSecretBasic(server.secret), oauth.ClientSecretPost(server.secret)]) {
      const response = await oauth.introspectionRequest(
        as,
        { client_id: other.token.id },
        auth,
        subject.secret,
        transport,
      );
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: "invalid_client" });
    }
    const basic = await oauth.introspectionRequest(
      as,
      { client_id: server.id },
      oauth.ClientSecretBasic(generateTokenSecret("org")),
      subject.secret,
      transport,
    );
    expect(basic.headers.get("www-authenticate")).toBe('Basic realm="tessera"');
  });
});

describe("RFC 7009 revocation", () => {
  const verifyResult = async (secret: string) =>
    (await (await exports.default.fetch(`${ORIGIN}/v1/verify?session=${secret}`)).json<{ result: number }>()).result;
  const revokeForm = (token: string, headers: Record<string, string> = {}) =>
    exports.default.fetch(`${ORIGIN}/oauth/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ token }).toString(),
    });
  const auditOf = async (tokenId: string) =>
    (
      await env.DB.prepare("SELECT action, actor_type, actor_id FROM audit_events WHERE target_id = ? ORDER BY id")
        .bind(tokenId)
        .all<{ action: string; actor_type: string; actor_id: string }>()
    ).results;

  it("lets a resource server of the same organization revoke, through oauth4webapi, audited", async () => {
    const as = await discover();
    const subject = await makeToken(org);
    const response = await oauth.revocationRequest(
      as,
      { client_id: server.id },
      oauth.ClientSecretBasic(server.secret),
      subject.secret,
      transport,
    );
    await oauth.processRevocationResponse(response);
    expect(await verifyResult(subject.secret)).toBe(6);
    expect(await auditOf(subject.token.id)).toContainEqual({
      action: "token.revoked",
      actor_type: "token",
      actor_id: server.id,
    });
  });

  it("lets a token's holder revoke it with nothing but the token", async () => {
    const leaked = await makeToken(org, { permissions: ["analysis:read"] });
    const res = await revokeForm(leaked.secret);
    expect(res.status).toBe(200);
    expect(await verifyResult(leaked.secret)).toBe(6);
    expect(await auditOf(leaked.token.id)).toContainEqual({
      action: "token.revoked",
      actor_type: "token",
      actor_id: leaked.token.id,
    });
    const self = await makeToken(org, { permissions: ["analysis:read"] });
    expect((await revokeForm(self.secret, { Authorization: `Bearer ${self.secret}` })).status).toBe(200);
    expect(await verifyResult(self.secret)).toBe(6);
  });

  it("answers 200 and changes nothing for unknown, dead and other tenants' tokens", async () => {
    const elsewhere = await makeToken(await makeOrg());
    const dead = await makeToken(org);
    await revokeToken(env, org.orgId, dead.token.id, testActor, Date.now());
    for (const token of [generateTokenSecret("org"), "tso_garbage", dead.secret, elsewhere.secret]) {
      const res = await revokeForm(token, { Authorization: `Bearer ${server.secret}` });
      expect(res.status).toBe(200);
    }
    expect(await verifyResult(elsewhere.secret)).toBe(0);
  });

  it("refuses a token that is neither the subject nor a resource server (403), and bad credentials (401)", async () => {
    const plain = await makeToken(org, { permissions: ["analysis:read"] });
    const subject = await makeToken(org);
    const forbidden = await revokeForm(subject.secret, { Authorization: `Bearer ${plain.secret}` });
    expect(forbidden.status).toBe(403);
    const refused = await revokeForm(subject.secret, { Authorization: `Bearer ${generateTokenSecret("org")}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="tessera", error="invalid_token"');
    expect(await verifyResult(subject.secret)).toBe(0);
  });
});

describe("WWW-Authenticate on 401 (RFC 6750 3) and Retry-After on 429", () => {
  const challengeOf = async (path: string, headers: Record<string, string> = {}, method = "GET") => {
    const res = await exports.default.fetch(`${ORIGIN}${path}`, { method, headers });
    expect(res.status, path).toBe(401);
    return res.headers.get("www-authenticate");
  };
  const NONE = 'Bearer realm="tessera"';
  const REFUSED = 'Bearer realm="tessera", error="invalid_token"';

  it("names no error when no token came, invalid_token when one was refused, on every surface", async () => {
    const unknown = { Authorization: `Bearer ${generateTokenSecret("org")}` };
    expect(await challengeOf("/v1/verify")).toBe(NONE);
    expect(await challengeOf("/v1/verify", unknown)).toBe(REFUSED);
    expect(await challengeOf("/v1/verify?session=tso_garbage")).toBe(REFUSED);
    expect(await challengeOf("/api/orgs")).toBe(NONE);
    expect(await challengeOf("/api/orgs", unknown)).toBe(REFUSED);
    expect(await challengeOf("/oauth/introspect", {}, "POST")).toBe(NONE);
    expect(await challengeOf("/oauth/introspect", unknown, "POST")).toBe(REFUSED);
  });

  it("tells a throttled client when to come back", async () => {
    const refusing: RateLimit = { limit: async () => ({ success: false }) };
    const res = await viaHandler(`${ORIGIN}/v1/verify?session=${generateTokenSecret("org")}`, {
      ...env,
      UNKNOWN_TOKEN_LIMITER: refusing,
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("60");
  });

  it("gives the management API's 401 a challenge too", async () => {
    const res = await api("GET", "/api/me");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(NONE);
  });
});
