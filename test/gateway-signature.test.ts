import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { checkTesseraSignature } from "../examples/downstream/src/gateway-signature";
import signatureSource from "../examples/downstream/src/gateway-signature.ts?raw";
import exampleSource from "../examples/downstream/src/index.ts?raw";
import { forgetUpstream } from "../worker/gateway/registry";
import { overwriteUpstreamCache, type UpstreamEntry, upstreamKvKey } from "../worker/gateway/upstream-cache";
import { findUpstream } from "../worker/gateway/upstreams";
import { api, confirm, login, OWNER, setupOwner } from "./support/api-client";
import { docExample } from "./support/doc-examples";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";

// Issue 11 item 7: every forwarded request carries X-Tessera-Signature, and the check in
// examples/downstream (run as its own Worker, bundled from its wrangler.toml) tells a request that
// came through its own gateway entry from anything else. The example's TESSERA_SIGNING_SECRET is
// fixed in vitest.config.ts; the upstream in front of it is given that secret here (as an operator
// would copy the secret the other way round), every other upstream keeps the one Tessera generated.

const DOWNSTREAM = "https://downstream.test";
const UPSTREAM = "https://upstream.test";
const MINUTE = 60_000;
const SECRET_FORM = /^tus_[0-9a-f]{64}$/;

const realFetch = globalThis.fetch;
/** What the gateway sent over the wire, last first: method, URL and headers. */
const sent: Request[] = [];

beforeAll(() => {
  vi.spyOn(globalThis, "fetch").mockImplementation((input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const origin = new URL(request.url).origin;
    if (origin === DOWNSTREAM || origin === UPSTREAM)
      sent.unshift(new Request(request.url, { method: request.method, headers: request.headers }));
    if (origin === DOWNSTREAM) return env.DOWNSTREAM_EXAMPLE.fetch(request);
    if (origin === UPSTREAM) return env.GATEWAY_UPSTREAM.fetch(request);
    return realFetch(input, init);
  });
});
afterAll(() => vi.restoreAllMocks());
afterEach(() => vi.useRealTimers());

interface Created {
  name: string;
  signingSecret: string;
  signingSecretHint: string;
}

let org: OrgFixture;
let admin: string;
let reader: { secret: string; id: string };

const rules = [
  { method: "GET", pathPrefix: "/", permission: "project:browse" },
  { method: "POST", pathPrefix: "/analyses", permission: "analysis:execute" },
];

async function createUpstream(name: string, origin: string): Promise<Created> {
  const res = await api<Created>("POST", `/api/orgs/${org.orgSlug}/upstreams`, {
    token: admin,
    body: { name, origin, rules },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Stores `secret` as the upstream's signing secret, in D1 and every cache tier, as a change does. */
async function giveSecret(name: string, secret: string): Promise<void> {
  await env.DB.prepare("UPDATE upstreams SET signing_secret = ?, updated_at = updated_at + 1 WHERE name = ?")
    .bind(secret, name)
    .run();
  const now = Date.now();
  await overwriteUpstreamCache(env.TOKEN_CACHE, name, await findUpstream(env.DB, name, now), now);
}

async function through(method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await api(method, `/gw/${path}`, { headers: { authorization: `Bearer ${reader.secret}` } });
  return { status: res.status, body: res.body };
}

/** The last forwarded request, sent again straight to the example with some headers or the path changed. */
function replay(changes: { headers?: Record<string, string>; path?: string; method?: string } = {}): Promise<Response> {
  const last = sent[0]!;
  const url = new URL(last.url);
  if (changes.path) url.pathname = changes.path;
  const headers = new Headers(last.headers);
  for (const [k, v] of Object.entries(changes.headers ?? {})) headers.set(k, v);
  return env.DOWNSTREAM_EXAMPLE.fetch(url.toString(), { method: changes.method ?? last.method, headers });
}

async function hmacHex(secret: string, payload: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(payload)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

beforeAll(async () => {
  org = await makeOrg();
  admin = (await makeToken(org, { admin: true, permissions: ["manage:upstreams", "audit:read"] })).secret;
  const made = await makeToken(org, { permissions: ["project:browse", "analysis:execute"] });
  reader = { secret: made.secret, id: made.token.id };
});

describe("X-Tessera-Signature", () => {
  it("is HMAC-SHA256 under the whole secret over t.METHOD.path.tokenId.org, path as the upstream receives it", async () => {
    const created = await createUpstream("echo-signed", `${UPSTREAM}/base`);
    expect(created.signingSecret).toMatch(SECRET_FORM);
    expect(created.signingSecretHint).toBe(`tus_…${created.signingSecret.slice(-4)}`);

    const before = Math.floor(Date.now() / 1000);
    const res = await api("POST", `/gw/echo-signed/analyses/a%20b/7?x=1&session=${reader.secret}`, {
      headers: { authorization: `Bearer ${reader.secret}`, "x-tessera-signature": "t=1,v1=forged-by-the-client" },
    });
    expect(res.status).toBe(200);
    const echo = res.body as { url: string; headers: [string, string][] };
    const header = (name: string) => echo.headers.find(([n]) => n === name)?.[1];
    expect(echo.url).toBe(`${UPSTREAM}/base/analyses/a%20b/7?x=1`);

    const signature = header("x-tessera-signature")!;
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
    expect(match, signature).not.toBeNull();
    const t = Number(match![1]);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(header("x-tessera-token-id")).toBe(reader.id);
    expect(header("x-tessera-org")).toBe(org.orgSlug);
    // The path without the query, base path included, encoded as on the request line: what the upstream can read off its own request.
    expect(match![2]).toBe(
      await hmacHex(created.signingSecret, `${t}.POST./base/analyses/a%20b/7.${reader.id}.${org.orgSlug}`),
    );

    // The example's check accepts it with this upstream's secret and no other.
    const received = new Request(echo.url, { method: "POST", headers: echo.headers });
    expect(await checkTesseraSignature(received, created.signingSecret)).toEqual({
      ok: true,
      caller: { tokenId: reader.id, org: org.orgSlug, kind: "org" },
    });
    expect(await checkTesseraSignature(received, `tus_${"0".repeat(64)}`)).toMatchObject({ ok: false });
  });

  it("lets the example Worker serve a request that came through its own gateway entry", async () => {
    await createUpstream("example-api", `${DOWNSTREAM}/via-gateway`);
    await giveSecret("example-api", env.EXAMPLE_SIGNING_SECRET);

    expect(await through("GET", "example-api/whoami")).toEqual({
      status: 200,
      body: { caller: { tokenId: reader.id, org: org.orgSlug, kind: "org" } },
    });
    expect(await through("POST", "example-api/analyses")).toEqual({
      status: 202,
      body: { accepted: true, submittedBy: reader.id },
    });
    // Sent again unchanged within the tolerance, the signature still holds (the 5 minutes bound replays).
    expect((await replay()).status).toBe(202);
  });

  it("is refused by the example when missing, forged, altered, old, or made with another upstream's secret", async () => {
    await createUpstream("example-strict", `${DOWNSTREAM}/via-gateway`);
    await giveSecret("example-strict", env.EXAMPLE_SIGNING_SECRET);
    expect((await through("GET", "example-strict/whoami")).status).toBe(200);
    const t = /t=(\d+)/.exec(sent[0]!.headers.get("x-tessera-signature")!)![1];

    // Straight to the example with Tessera's headers written by hand: no signature, or a made-up one.
    const direct = (headers: Record<string, string>) =>
      env.DOWNSTREAM_EXAMPLE.fetch(`${DOWNSTREAM}/via-gateway/whoami`, {
        headers: { "x-tessera-token-id": reader.id, "x-tessera-org": org.orgSlug, ...headers },
      });
    const missing = await direct({});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: "bad_signature" });
    expect((await direct({ "x-tessera-signature": `t=${t},v1=${"ab".repeat(32)}` })).status).toBe(401);
    expect(
      (
        await direct({
          "x-tessera-signature": `t=${t},v1=${await hmacHex("tus_guessed", `${t}.GET./via-gateway/whoami.${reader.id}.${org.orgSlug}`)}`,
        })
      ).status,
    ).toBe(401);

    // A real signature moved to another caller, organization, path or method.
    expect((await replay()).status).toBe(200);
    expect((await replay({ headers: { "x-tessera-org": "someone-else" } })).status).toBe(401);
    expect((await replay({ headers: { "x-tessera-token-id": crypto.randomUUID() } })).status).toBe(401);
    expect((await replay({ path: "/via-gateway/analyses", method: "POST" })).status).toBe(401);
    expect(
      (
        await replay({
          headers: {
            "x-tessera-signature": `t=${Number(t) + 1},${sent[0]!.headers.get("x-tessera-signature")!.split(",")[1]}`,
          },
        })
      ).status,
    ).toBe(401);

    // Signed by the gateway 6 minutes ago (the example runs on the real clock): too old. 4 minutes: still fine.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() - 6 * MINUTE);
    expect(await through("GET", "example-strict/whoami")).toMatchObject({
      status: 401,
      body: { error: "bad_signature" },
    });
    vi.setSystemTime(Date.now() + 2 * MINUTE);
    expect((await through("GET", "example-strict/whoami")).status).toBe(200);
    vi.useRealTimers();

    // Another upstream in front of the same API (here of the same organization), with its own secret:
    // the request is genuine Tessera traffic, but not from this API's entry.
    const other = await createUpstream("example-other-entry", `${DOWNSTREAM}/via-gateway`);
    expect(other.signingSecret).not.toBe(env.EXAMPLE_SIGNING_SECRET);
    expect(await through("GET", "example-other-entry/whoami")).toMatchObject({
      status: 401,
      body: { error: "bad_signature" },
    });
  });

  it("rotates: the gateway signs with the new secret at once, the old one fails and the new one holds", async () => {
    await createUpstream("example-rotated", `${DOWNSTREAM}/via-gateway`);
    await giveSecret("example-rotated", env.EXAMPLE_SIGNING_SECRET);
    expect((await through("GET", "example-rotated/whoami")).status).toBe(200);

    const rotated = await api<Created>("POST", `/api/orgs/${org.orgSlug}/upstreams/example-rotated/rotate-secret`, {
      token: admin,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ name: "example-rotated", origin: `${DOWNSTREAM}/via-gateway` });
    const fresh = rotated.body.signingSecret;
    expect(fresh).toMatch(SECRET_FORM);
    expect(fresh).not.toBe(env.EXAMPLE_SIGNING_SECRET);
    expect(rotated.body.signingSecretHint).toBe(`tus_…${fresh.slice(-4)}`);
    // Every cache tier follows, as for any change.
    expect(
      (await env.TOKEN_CACHE.get<UpstreamEntry>(upstreamKvKey("example-rotated"), "json"))?.upstream?.signingSecret,
    ).toBe(fresh);

    // The example still holds the old secret: it refuses what the gateway now signs.
    expect(await through("GET", "example-rotated/whoami")).toMatchObject({
      status: 401,
      body: { error: "bad_signature" },
    });
    const forwarded = sent[0]!;
    expect(await checkTesseraSignature(forwarded, env.EXAMPLE_SIGNING_SECRET)).toMatchObject({ ok: false });
    expect(await checkTesseraSignature(forwarded, fresh)).toMatchObject({ ok: true, caller: { tokenId: reader.id } });

    // Given the new secret, the example serves the gateway again.
    await giveSecret("example-rotated", env.EXAMPLE_SIGNING_SECRET);
    expect((await through("GET", "example-rotated/whoami")).status).toBe(200);
  });

  it("replaces a cached configuration written before upstreams had secrets, instead of forwarding unsigned", async () => {
    const created = await createUpstream("example-legacy", `${UPSTREAM}/v1`);
    const entry = await findUpstream(env.DB, "example-legacy", Date.now());
    const { signingSecret: _dropped, ...legacy } = entry.upstream!;
    await env.TOKEN_CACHE.put(upstreamKvKey("example-legacy"), JSON.stringify({ ...entry, upstream: legacy }));
    forgetUpstream("example-legacy");

    const res = await api("GET", "/gw/example-legacy/x", { headers: { authorization: `Bearer ${reader.secret}` } });
    expect(res.status).toBe(200);
    const received = new Request(res.body.url, { headers: res.body.headers });
    expect(await checkTesseraSignature(received, created.signingSecret)).toMatchObject({ ok: true });
  });
  it("forwards nothing for an upstream without a secret (a row written outside Tessera) until it is rotated", async () => {
    await createUpstream("example-unsigned", `${UPSTREAM}/v1`);
    await env.DB.prepare(
      "UPDATE upstreams SET signing_secret = NULL, updated_at = updated_at + 1 WHERE name = 'example-unsigned'",
    ).run();
    const now = Date.now();
    await overwriteUpstreamCache(
      env.TOKEN_CACHE,
      "example-unsigned",
      await findUpstream(env.DB, "example-unsigned", now),
      now,
    );
    const listed = await api("GET", `/api/orgs/${org.orgSlug}/upstreams/example-unsigned`, { token: admin });
    expect(listed.body.signingSecretHint).toBeNull();

    const before = sent.length;
    expect(await through("GET", "example-unsigned/x")).toMatchObject({
      status: 503,
      body: { result: 10, error: "unavailable" },
    });
    expect(sent.length).toBe(before);
    const rotated = await api<Created>("POST", `/api/orgs/${org.orgSlug}/upstreams/example-unsigned/rotate-secret`, {
      token: admin,
    });
    expect(rotated.body.signingSecret).toMatch(SECRET_FORM);
    expect((await through("GET", "example-unsigned/x")).status).toBe(200);
  });
});

describe("the signing secret is shown once", () => {
  it("appears in the create and rotate answers only: never in reads, lists, the audit log or the logs", async () => {
    const logged: string[] = [];
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi
        .spyOn(console, level)
        .mockImplementation((...args: unknown[]) => void logged.push(args.map((a) => JSON.stringify(a)).join(" "))),
    );
    try {
      const created = await createUpstream("shown-once", `${UPSTREAM}/v1`);
      const rotated = await api<Created>("POST", `/api/orgs/${org.orgSlug}/upstreams/shown-once/rotate-secret`, {
        token: admin,
      });
      const secrets = [created.signingSecret, rotated.body.signingSecret];
      expect((await through("GET", "shown-once/x")).status).toBe(200);
      await api("PATCH", `/api/orgs/${org.orgSlug}/upstreams/shown-once`, {
        token: admin,
        body: { projectFromPath: false },
      });

      const one = await api("GET", `/api/orgs/${org.orgSlug}/upstreams/shown-once`, { token: admin });
      expect(one.status).toBe(200);
      expect(one.body).not.toHaveProperty("signingSecret");
      expect(one.body.signingSecretHint).toBe(`tus_…${rotated.body.signingSecret.slice(-4)}`);
      const list = await api("GET", `/api/orgs/${org.orgSlug}/upstreams`, { token: admin });
      const audit = await api("GET", `/api/orgs/${org.orgSlug}/audit`, { token: admin });
      expect(audit.status).toBe(200);
      expect(audit.body.items.map((e: { action: string }) => e.action)).toContain("upstream.secret_rotated");
      const rows = await env.DB.prepare("SELECT detail FROM audit_events WHERE target_id = 'shown-once'").all();

      for (const secret of secrets) {
        for (const [what, text] of [
          ["GET", JSON.stringify(one.body)],
          ["list", JSON.stringify(list.body)],
          ["audit API", JSON.stringify(audit.body)],
          ["audit rows", JSON.stringify(rows.results)],
          ["logs", logged.join("\n")],
        ]) {
          expect(text, what).not.toContain(secret);
          expect(text, what).not.toContain(secret.slice(4));
        }
      }
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it("rotates only for the organization's upstream managers, with a fresh password confirmation for people", async () => {
    const first = await setupOwner({ slug: "sig-owner", name: "Signing" });
    await confirm(first.cookie, OWNER.password);
    const mine = await api<Created>("POST", "/api/orgs/sig-owner/upstreams", {
      cookie: first.cookie,
      body: { name: "sig-owner-api", origin: `${UPSTREAM}/v1`, rules },
    });
    expect(mine.status).toBe(201);
    expect(mine.body.signingSecret).toMatch(SECRET_FORM);
    const path = "/api/orgs/sig-owner/upstreams/sig-owner-api/rotate-secret";

    // A new session has no confirmation yet.
    const cookie = await login(OWNER.email, OWNER.password);
    const unconfirmed = await api("POST", path, { cookie });
    expect(unconfirmed.status).toBe(403);
    expect(unconfirmed.body.error.code).toBe("sudo_required");
    await confirm(cookie, OWNER.password);
    const confirmed = await api("POST", path, { cookie });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.signingSecret).toMatch(SECRET_FORM);

    // Another organization's admin, and an admin token without manage:upstreams.
    expect([403, 404]).toContain((await api("POST", path, { token: admin })).status);
    expect(
      (await api("POST", `/api/orgs/${org.orgSlug}/upstreams/sig-owner-api/rotate-secret`, { token: admin })).status,
    ).toBe(404);
    const weak = (await makeToken(org, { admin: true, permissions: ["audit:read"] })).secret;
    expect(
      (await api("POST", `/api/orgs/${org.orgSlug}/upstreams/example-api/rotate-secret`, { token: weak })).status,
    ).toBe(403);
    expect(
      (await api("POST", `/api/orgs/${org.orgSlug}/upstreams/no-such-upstream/rotate-secret`, { token: admin })).status,
    ).toBe(404);
  });
});

describe("the documented check", () => {
  it("is the example's code, verbatim (docs/INTEGRATION.md, Gateway)", () => {
    expect(signatureSource).toContain(docExample("gateway-signature"));
    expect(exampleSource).toContain(docExample("gateway-routes"));
  });
});
