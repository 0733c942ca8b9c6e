import { env, exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { SESSION_COOKIE } from "../worker/accounts/limits";
import { SYSTEM_ACTOR } from "../worker/audit/events";
import { forgetUpstream } from "../worker/gateway/registry";
import { upstreamKvKey } from "../worker/gateway/upstream-cache";
import { createUpstream } from "../worker/gateway/upstreams";
import { KV_NEGATIVE_TTL_S } from "../worker/limits";
import { generateTokenSecret } from "../worker/tokens/format";
import { api, OWNER, setupOwner } from "./support/api-client";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { countingEnv, type IoCall } from "./support/io";
import { resetIsolateCaches } from "./support/isolate";
import { routeUpstreamFetch, UNREACHABLE, UPSTREAM } from "./support/upstream-fetch";
import { viaHandler } from "./support/verify-client";

// Issue 11, items 1 and 11: what the gateway answers can never act as Tessera's console (sandboxed,
// no cookies, no service worker scope, its own hostname when configured), and a name that is not
// the caller's upstream is indistinguishable from one that does not exist, and not free to probe.
// Upstream requests go to the auxiliary Worker (test/support/gateway-upstream.mjs) as in gateway.test.ts.
const TESSERA = "https://tessera.test";
const GATEWAY_HOST = "gw.tessera.test";
const SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'";

const upstreamCalls = routeUpstreamFetch();
afterEach(() => resetIsolateCaches());

interface Echo {
  headers: [string, string][];
}

const gw = (path: string, init?: RequestInit) => exports.default.fetch(`${TESSERA}/gw/${path}`, init);
const key = (secret: string, ip?: string) => ({
  headers: { "X-Api-Key": secret, ...(ip && { "CF-Connecting-IP": ip }) },
});

let org: OrgFixture;
let other: OrgFixture;
let full: string;
let otherFull: string;
let otherBrowse: string;
let nextName = 0;
/** A name no upstream has and no other test asked about. */
const freshName = () => `nobody-${Date.now().toString(36)}-${++nextName}`;

beforeAll(async () => {
  org = await makeOrg();
  other = await makeOrg();
  full = (await makeToken(org, { permissions: ["project:browse", "analysis:read", "analysis:execute"] })).secret;
  otherFull = (await makeToken(other, { permissions: ["project:browse", "analysis:read", "analysis:execute"] })).secret;
  otherBrowse = (await makeToken(other, { permissions: ["project:browse"] })).secret;
  const rules = [
    { method: "GET", pathPrefix: "/", permission: "project:browse" },
    { method: "DELETE", pathPrefix: "/analyses", permission: "analysis:execute" },
  ];
  await createUpstream(
    storeEnv(env),
    org.orgId,
    { name: "iso", origin: UPSTREAM, rules, projectFromPath: false },
    SYSTEM_ACTOR,
    Date.now(),
  );
  await createUpstream(
    storeEnv(env),
    org.orgId,
    {
      name: "iso-projects",
      origin: UPSTREAM,
      rules: [{ method: "*", pathPrefix: "/", permission: "analysis:read" }],
      projectFromPath: true,
    },
    SYSTEM_ACTOR,
    Date.now(),
  );
  await createUpstream(
    storeEnv(env),
    org.orgId,
    { name: "iso-dead", origin: UNREACHABLE, rules, projectFromPath: false },
    SYSTEM_ACTOR,
    Date.now(),
  );
});

describe("a gateway answer cannot act on Tessera's origin", () => {
  it("passes the upstream's HTML through sandboxed, without the headers that reach beyond the answer", async () => {
    const res = await gw("iso/page", { headers: { "X-Api-Key": full, "x-upstream-mode": "hostile" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBe(SANDBOX);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("service-worker-allowed")).toBeNull();
    expect(res.headers.get("clear-site-data")).toBeNull();
    expect(res.headers.get("refresh")).toBeNull();
    // Nor policies the browser would keep for all of Tessera's host, or that report the addresses it visits.
    for (const name of [
      "content-security-policy-report-only",
      "nel",
      "report-to",
      "reporting-endpoints",
      "strict-transport-security",
      "alt-svc",
      "accept-ch",
    ]) {
      expect(res.headers.get(name), name).toBeNull();
    }
    // No page under /gw/ hands its address (a ?session= token in it) to the next request it makes.
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    // An API behind a token gateway has no business setting cookies on Tessera's host: none pass.
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toContain("<script>");
  });

  it("puts the same headers on Tessera's own answers under /gw/", async () => {
    const answers = {
      tokenMissing: await gw("iso/items"),
      tokenUnknown: await gw("iso/items", key(generateTokenSecret("org"))),
      twoTokens: await gw(`iso/items?session=${otherFull}`, key(full)),
      noRule: await gw("iso/items", { method: "PUT", ...key(full) }),
      noProject: await gw("iso-projects/", key(full)),
      foreign: await gw("iso/items", key(otherFull)),
      unknownName: await gw(`${freshName()}/items`, key(full)),
      unreachable: await gw("iso-dead/items", key(full)),
      noName: await gw(""),
    };
    for (const [what, res] of Object.entries(answers)) {
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.headers.get("content-security-policy"), what).toBe(SANDBOX);
      expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
      expect(res.headers.get("cache-control"), what).toBe("no-store");
      expect(res.headers.get("referrer-policy"), what).toBe("no-referrer");
    }
    expect(upstreamCalls()).toBe(0);
  });

  it("never forwards the console's cookie upstream, however its name is spelled", async () => {
    const variants = [
      `${SESSION_COOKIE}=a`,
      "tessera_session=b",
      "__Host-TESSERA_SESSION=c",
      "=tessera_session=d",
      " = __host-tessera_session=e",
      "\tTessera_Session =f",
      "__Secure-tessera_session=g",
    ];
    const res = await gw("iso/items", {
      headers: { "X-Api-Key": full, Cookie: [...variants, "theme=dark"].join("; ") },
    });
    expect(res.status).toBe(200);
    const echo = await res.json<Echo>();
    expect(echo.headers.find(([n]) => n === "cookie")?.[1]).toBe("theme=dark");
  });

  it("never forwards it from a second Cookie header either (joined with a comma)", async () => {
    const headers = new Headers({ "X-Api-Key": full });
    headers.append("Cookie", "theme=dark");
    headers.append("Cookie", "__Host-tessera_session=h");
    const res = await gw("iso/items", { headers });
    expect(res.status).toBe(200);
    const echo = await res.json<Echo>();
    expect(JSON.stringify(echo.headers)).not.toContain("tessera_session");
    expect(echo.headers.find(([n]) => n === "cookie")?.[1]).toBe("theme=dark");
  });
});

describe("a name that is not the caller's upstream", () => {
  const upstreamReads = (c: IoCall) => c.binding === "DB" && c.detail.includes('from "upstreams"');

  it("answers a name nobody has exactly as another organization's upstream, whatever the path and method", async () => {
    const unknown = await gw(`${freshName()}/items`, key(otherFull));
    const answers = [
      unknown,
      await gw("iso/items", key(otherFull)),
      // Another organization's rules, paths and project segment stay invisible too.
      await gw("iso/analyses/1", { method: "DELETE", ...key(otherBrowse) }),
      await gw("iso/items", { method: "PUT", ...key(otherFull) }),
      await gw("iso-projects/", key(otherFull)),
      await gw("iso-projects/x y/", key(otherFull)),
    ];
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 403));
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]!)).toMatchObject({ result: 7, valid: false, error: "permission_denied" });
    expect(upstreamCalls()).toBe(0);
  });

  it("answers the token's failure first, before any upstream is looked up", async () => {
    const { env: counted, log } = countingEnv();
    const name = freshName();
    const missing = await viaHandler(`${TESSERA}/gw/${name}/items`, counted);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ result: 1, error: "token_missing" });
    const unknownToken = await viaHandler(
      new Request(`${TESSERA}/gw/${name}/items`, key(generateTokenSecret("org"), "198.51.100.31")),
      counted,
    );
    expect(unknownToken.status).toBe(401);
    expect(await unknownToken.json()).toMatchObject({ result: 3, error: "token_unknown" });
    expect(
      log.count(undefined, (c) => c.detail.includes(upstreamKvKey(name)) || c.detail.includes('"upstreams"')),
    ).toBe(0);
  });

  it("remembers a name nobody has in memory and in KV for the unknown-token TTL", async () => {
    const name = freshName();
    const { env: counted, log } = countingEnv();
    const probe = () => viaHandler(new Request(`${TESSERA}/gw/${name}/items`, key(full, "198.51.100.32")), counted);

    const before = Date.now();
    expect((await probe()).status).toBe(403);
    // The read, and the version check after the KV fill that guards against a racing creation.
    expect(log.count("DB", upstreamReads)).toBe(2);
    const { keys } = await env.TOKEN_CACHE.list({ prefix: upstreamKvKey(name) });
    expect(keys.map((k) => k.name)).toEqual([upstreamKvKey(name)]);
    expect(keys[0]!.expiration).toBeGreaterThanOrEqual(Math.floor(before / 1000) + KV_NEGATIVE_TTL_S - 1);
    expect(keys[0]!.expiration).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + KV_NEGATIVE_TTL_S + 1);

    log.reset();
    expect((await probe()).status).toBe(403); // from memory
    forgetUpstream(name);
    expect((await probe()).status).toBe(403); // from KV, as another isolate would
    expect(log.count("DB", upstreamReads)).toBe(0);
  });

  it("keeps the unknown-token TTL when a location that did not yet see the negative entry writes it again", async () => {
    const name = freshName();
    expect((await gw(`${name}/items`, key(full))).status).toBe(403);
    forgetUpstream(name);
    const { env: counted, log } = countingEnv();
    // This location's KV read misses (not propagated yet); the fill after D1 then finds the entry.
    let missed = false;
    log.around = (call, proceed) => {
      if (missed || call.op !== "get" || call.detail !== upstreamKvKey(name)) return proceed();
      missed = true;
      return Promise.resolve(null);
    };
    const before = Date.now();
    expect(
      (await viaHandler(new Request(`${TESSERA}/gw/${name}/items`, key(full, "198.51.100.34")), counted)).status,
    ).toBe(403);
    expect(missed).toBe(true);
    expect(log.count("DB", upstreamReads)).toBeGreaterThan(0);
    const { keys } = await env.TOKEN_CACHE.list({ prefix: upstreamKvKey(name) });
    expect(keys[0]!.expiration).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + KV_NEGATIVE_TTL_S + 1);
    expect(keys[0]!.expiration).toBeGreaterThanOrEqual(Math.floor(before / 1000) + KV_NEGATIVE_TTL_S - 1);
  });

  it("lets an upstream created under a remembered name work at once", async () => {
    const name = freshName();
    expect((await gw(`${name}/items`, key(full))).status).toBe(403);
    const rules = [{ method: "GET", pathPrefix: "/", permission: "project:browse" }];
    await createUpstream(
      storeEnv(env),
      org.orgId,
      { name, origin: UPSTREAM, rules, projectFromPath: false },
      SYSTEM_ACTOR,
      Date.now(),
    );
    expect((await gw(`${name}/items`, key(full))).status).toBe(200);
  });

  it("counts a name nobody has toward the unknown-token limiter, and a blocked client's misses stop before D1", async () => {
    const ip = "198.51.100.33";
    const { env: counted, log } = countingEnv({
      ...env,
      UNKNOWN_TOKEN_LIMITER: { limit: async () => ({ success: false }) },
    } as Env);
    const probe = (name: string) => viaHandler(new Request(`${TESSERA}/gw/${name}/items`, key(full, ip)), counted);
    expect((await probe("iso")).status).toBe(200); // a known name costs the limiter nothing
    expect(log.count("UNKNOWN_TOKEN_LIMITER")).toBe(0);

    const limited = await probe(freshName());
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ result: 9, error: "rate_limited" });
    expect(log.calls.filter((c) => c.binding === "UNKNOWN_TOKEN_LIMITER").map((c) => c.detail)).toEqual([ip]);

    log.reset();
    expect((await probe(freshName())).status).toBe(429);
    expect(log.count("DB", upstreamReads)).toBe(0);
    // Names this isolate already holds keep resolving for it, as cached tokens keep verifying.
    expect((await probe("iso")).status).toBe(200);
  });
});

describe("GATEWAY_HOSTNAME", () => {
  let assetCalls = 0;
  const split = {
    ...env,
    GATEWAY_HOSTNAME: GATEWAY_HOST,
    ASSETS: {
      fetch: async () => {
        assetCalls++;
        return new Response("<!doctype html><title>console</title>", { headers: { "content-type": "text/html" } });
      },
    },
  } as unknown as Env;
  const on = (host: string, path: string, init?: RequestInit) =>
    viaHandler(new Request(`https://${host}${path}`, init), split);

  it("answers /gw/ only on the gateway host", async () => {
    const there = await on(GATEWAY_HOST, "/gw/iso/items", key(full));
    expect(there.status).toBe(200);
    expect(there.headers.get("content-security-policy")).toBe(SANDBOX);

    const here = await on("tessera.test", "/gw/iso/items", key(full));
    expect(here.status).toBe(404);
    expect(await here.json()).toMatchObject({ valid: false });
    expect(upstreamCalls()).toBe(1);
  });

  it("never answers the console, /api/ or /oauth/ on the gateway host", async () => {
    assetCalls = 0;
    for (const path of ["/api/setup", "/api/me", "/api/session"]) {
      const res = await on(GATEWAY_HOST, path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ error: { code: "not_found" } });
    }
    const login = await on(GATEWAY_HOST, "/api/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(login.status).toBe(404);
    const introspect = await on(GATEWAY_HOST, "/oauth/introspect", { method: "POST", body: "token=x" });
    expect(introspect.status).toBe(404);
    expect(await introspect.json()).toMatchObject({ valid: false });
    for (const path of ["/", "/index.html", "/orgs/acme/tokens", "/assets/index.js"]) {
      expect((await on(GATEWAY_HOST, path)).status, path).toBe(404);
    }
    expect(assetCalls).toBe(0);
  });

  it("serves the console from its assets on any other host, and the API as before", async () => {
    assetCalls = 0;
    const page = await on("tessera.test", "/orgs/acme/tokens");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>console</title>");
    expect(assetCalls).toBe(1);
    expect((await on("tessera.test", "/api/setup")).status).toBe(200);
    expect((await on("tessera.test", "/v1/verify", key(full))).status).toBe(200);
    // An address of the worker's own surfaces that no route knows answers in that surface's envelope, never the console.
    expect(await (await on("tessera.test", "/v1/nothing-here")).json()).toMatchObject({ valid: false });
    expect((await on("tessera.test", "/api/nothing-here")).status).toBe(401);
    expect((await on("tessera.test", "/orgs/acme", { method: "POST" })).status).toBe(400);
    expect(assetCalls).toBe(1);
  });
});

describe("the console cookie", () => {
  it("is host-locked: __Host-tessera_session, Secure, Path=/, no Domain", async () => {
    expect(SESSION_COOKIE).toBe("__Host-tessera_session");
    await setupOwner({ slug: "isolation", name: "Isolation" });
    const res = await api("POST", "/api/session", { body: { email: OWNER.email, password: OWNER.password } });
    expect(res.status).toBe(200);
    expect(res.setCookie).toMatch(/^[0-9A-Za-z_-]{20,}$/);
    const line = res.headers.getSetCookie().find((l) => l.startsWith(`${SESSION_COOKIE}=`));
    expect(line).toBeDefined();
    expect(line).toMatch(/; Secure/);
    expect(line).toMatch(/; Path=\/(;|$)/);
    expect(line).not.toMatch(/Domain=/i);
  });
});
