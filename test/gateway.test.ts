import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../worker/audit/events";
import { handleGateway } from "../worker/gateway/gateway";
import { createUpstream, deleteUpstream, updateUpstream } from "../worker/gateway/upstreams";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { routeUpstreamFetch, UNREACHABLE, UPSTREAM } from "./support/upstream-fetch";

// The gateway fetches upstream origins with the global fetch, as in production. Here the upstream
// origin is served by an auxiliary Worker (test/support/gateway-upstream.mjs, vitest.config.ts):
// routeUpstreamFetch (test/support/upstream-fetch.ts) hands requests for UPSTREAM to its service binding
// untouched, so what the upstream Worker reports is exactly what crossed the wire.
const TESSERA = "https://tessera.test";

const upstreamCalls = routeUpstreamFetch();

interface Echo {
  method: string;
  url: string;
  headers: [string, string][];
  bodyLength: number | null;
  body: string | null;
}
interface Failure {
  result: number;
  valid: false;
  error: string;
  message: string;
}

const gw = (path: string, init?: RequestInit) => exports.default.fetch(`${TESSERA}/gw/${path}`, init);
const header = (echo: Echo, name: string) => echo.headers.find(([n]) => n === name)?.[1];

let org: OrgFixture;
let other: OrgFixture;
let full: { secret: string; id: string };
let browseOnly: string;
let readOnly: string;
let otherOrgs: string;
let alphaOnly: string;

beforeAll(async () => {
  const now = Date.now();
  org = await makeOrg(now);
  other = await makeOrg(now);
  const made = await makeToken(org, { permissions: ["project:browse", "analysis:read", "analysis:execute"] });
  full = { secret: made.secret, id: made.token.id };
  browseOnly = (await makeToken(org, { permissions: ["project:browse"] })).secret;
  readOnly = (await makeToken(org, { permissions: ["project:browse", "analysis:read"] })).secret;
  otherOrgs = (await makeToken(other, { permissions: ["project:browse", "analysis:read", "analysis:execute"] })).secret;
  alphaOnly = (await makeToken(org, { projects: [org.projectKeys.alpha], permissions: ["analysis:read"] })).secret;

  await createUpstream(
    storeEnv(env),
    org.orgId,
    {
      name: "acme",
      origin: UPSTREAM,
      rules: [
        { method: "GET", pathPrefix: "/", permission: "project:browse" },
        { method: "*", pathPrefix: "/analyses", permission: "analysis:execute" },
        { method: "GET", pathPrefix: "/analyses", permission: "analysis:read" },
        { method: "POST", pathPrefix: "/upload", permission: "analysis:execute" },
      ],
      projectFromPath: false,
    },
    SYSTEM_ACTOR,
    now,
  );
  await createUpstream(
    storeEnv(env),
    org.orgId,
    {
      name: "per-project",
      origin: `${UPSTREAM}/base/`,
      rules: [{ method: "*", pathPrefix: "/", permission: "analysis:read" }],
      projectFromPath: true,
    },
    SYSTEM_ACTOR,
    now,
  );
  await createUpstream(
    storeEnv(env),
    org.orgId,
    {
      name: "dead",
      origin: UNREACHABLE,
      rules: [{ method: "*", pathPrefix: "/", permission: "project:browse" }],
      projectFromPath: false,
    },
    SYSTEM_ACTOR,
    now,
  );
});

describe("what the upstream sees", () => {
  it("gets no token carrier, no forged identity, and Tessera's identity headers", async () => {
    const t = full.secret;
    const res = await gw(`acme/items/42?session=${t}&a=1&access_token=${t}&acc%65ss_token=${t}&Session=kept`, {
      headers: {
        Authorization: `Bearer ${t}`,
        "X-Api-Key": t,
        "X-Tessera-Token-Id": "forged",
        "X-Tessera-Org": "someone-else",
        "X-Tessera-Kind": "personal",
        "X-Tessera-Admin": "true",
        "X-Forwarded-For": "10.9.9.9",
        Cookie: "tessera_session=console-secret; theme=dark",
        "CF-Connecting-IP": "203.0.113.50",
        Accept: "application/json",
      },
    });
    expect(res.status).toBe(200);
    const echo = await res.json<Echo>();
    expect(echo.url).toBe(`${UPSTREAM}/items/42?a=1&Session=kept`);
    const names = echo.headers.map(([n]) => n);
    expect(names).not.toContain("authorization");
    expect(names).not.toContain("x-api-key");
    expect(names).not.toContain("x-tessera-admin");
    expect(JSON.stringify(echo)).not.toContain(t);
    expect(header(echo, "x-tessera-token-id")).toBe(full.id);
    expect(header(echo, "x-tessera-org")).toBe(org.orgSlug);
    expect(header(echo, "x-tessera-kind")).toBe("org");
    expect(header(echo, "x-forwarded-for")).toBe("203.0.113.50");
    expect(header(echo, "cookie")).toBe("theme=dark");
    expect(header(echo, "accept")).toBe("application/json");
  });

  it("gets the Referer without the token the previous page's address carried", async () => {
    const t = full.secret;
    const res = await gw(`acme/items/2?session=${t}`, {
      headers: { Referer: `${TESSERA}/gw/acme/items/1?tab=2&session=${t}` },
    });
    const echo = await res.json<Echo>();
    expect(header(echo, "referer")).toBe(`${TESSERA}/gw/acme/items/1?tab=2`);
    expect(JSON.stringify(echo)).not.toContain(t);
  });

  it("gets no method override: the rule that admitted the request governs the method it has", async () => {
    const res = await gw("acme/analyses/7", {
      headers: {
        "X-Api-Key": readOnly,
        "X-HTTP-Method-Override": "DELETE",
        "X-HTTP-Method": "DELETE",
        "X-Method-Override": "DELETE",
      },
    });
    expect(res.status).toBe(200);
    const names = (await res.json<Echo>()).headers.map(([n]) => n);
    expect(names.filter((n) => n.includes("method"))).toEqual([]);
  });

  it("gets a Basic-carried token stripped too", async () => {
    const res = await gw("acme/items", { headers: { Authorization: `Basic ${btoa(`${browseOnly}:`)}` } });
    expect(res.status).toBe(200);
    const echo = await res.json<Echo>();
    expect(echo.headers.map(([n]) => n)).not.toContain("authorization");
  });

  it("gets every other query parameter byte for byte, in order", async () => {
    const query = "z=%7E&b=%20x+y&c&&d=%C3%A9&e=a%2Fb&f=%zz&g==&h=1;2";
    const res = await gw(`acme/search?${query}&access_token=${browseOnly}`);
    expect(res.status).toBe(200);
    expect((await res.json<Echo>()).url).toBe(`${UPSTREAM}/search?${query}`);
  });

  it("gets the raw path below /gw/<name> appended to the origin's base path", async () => {
    const res = await gw(`per-project/${org.projectKeys.alpha}/api/a%20b/`, { headers: { "X-Api-Key": alphaOnly } });
    expect(res.status).toBe(200);
    expect((await res.json<Echo>()).url).toBe(`${UPSTREAM}/base/${org.projectKeys.alpha}/api/a%20b/`);
  });

  it("gets the origin's root for /gw/<name> with no path at all", async () => {
    const res = await gw("acme?q=1", { headers: { "X-Api-Key": browseOnly } });
    expect(res.status).toBe(200);
    expect((await res.json<Echo>()).url).toBe(`${UPSTREAM}/?q=1`);
  });

  it("gets a POST body unchanged, byte for byte", async () => {
    const bytes = new Uint8Array(256 * 1024);
    for (let at = 0; at < bytes.length; at += 65_536) crypto.getRandomValues(bytes.subarray(at, at + 65_536));
    const res = await gw("acme/upload", {
      method: "POST",
      headers: { "X-Api-Key": full.secret, "x-upstream-mode": "stream", "content-type": "application/octet-stream" },
      body: bytes,
    });
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it("streams the body both ways: the answer starts before the request body has ended", async () => {
    const encoder = new TextEncoder();
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        push = c;
      },
    });
    push.enqueue(encoder.encode("first chunk;"));
    const res = await gw("acme/upload", {
      method: "POST",
      headers: { "X-Api-Key": full.secret, "x-upstream-mode": "stream" },
      body,
      // @ts-expect-error duplex is required by the fetch standard for stream bodies; workerd accepts it
      duplex: "half",
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    // Had the gateway buffered the request, this read would wait forever for a body that never ends.
    expect(new TextDecoder().decode(first.value)).toBe("first chunk;");
    push.enqueue(encoder.encode("second chunk"));
    push.close();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe("second chunk");
  });
});

describe("who gets through", () => {
  it("refuses a token without the rule's permission with code 7, before calling the upstream", async () => {
    const res = await gw("acme/analyses/7", { method: "DELETE", headers: { "X-Api-Key": readOnly } });
    expect(res.status).toBe(403);
    expect(await res.json<Failure>()).toMatchObject({ result: 7, valid: false, error: "permission_denied" });
    expect(upstreamCalls()).toBe(0);
  });

  it("applies the longest matching prefix, and an exact method over *", async () => {
    expect((await gw("acme/analyses/7", { headers: { "X-Api-Key": readOnly } })).status).toBe(200);
    expect((await gw("acme/analyses/7", { method: "PUT", headers: { "X-Api-Key": readOnly } })).status).toBe(403);
    expect((await gw("acme/analyses/7", { method: "PUT", headers: { "X-Api-Key": full.secret } })).status).toBe(200);
    // "/analyses" does not cover "/analysesX": that path falls back to the "/" rule.
    expect((await gw("acme/analysesX", { headers: { "X-Api-Key": browseOnly } })).status).toBe(200);
  });

  it("lets a GET rule govern HEAD", async () => {
    const res = await gw("acme/items", { method: "HEAD", headers: { "X-Api-Key": browseOnly } });
    expect(res.status).toBe(200);
  });

  it("matches rules on the decoded path, so percent-encoding cannot dodge a rule", async () => {
    const res = await gw("acme/%61nalyses/7", { headers: { "X-Api-Key": browseOnly } });
    expect(res.status).toBe(403);
    expect(upstreamCalls()).toBe(0);
  });

  it("refuses empty path segments, which servers that merge slashes read as another path", async () => {
    for (const path of ["acme//analyses/7", "acme/items//analyses"]) {
      const res = await gw(path, { headers: { "X-Api-Key": full.secret } });
      expect(res.status, path).toBe(400);
      expect(await res.json<Failure>(), path).toMatchObject({ result: 11, error: "invalid_request" });
    }
    // A trailing slash is not an empty segment between two others.
    expect((await gw("acme/items/", { headers: { "X-Api-Key": browseOnly } })).status).toBe(200);
    expect(upstreamCalls()).toBe(1);
  });

  it("holds a path to the stricter rule of any reading a lenient upstream may give it", async () => {
    // Servers that fold case, drop `;parameters` (Tomcat, Spring) or trim segments read these as /analyses/7.
    for (const path of ["acme/ANALYSES/7", "acme/analyses;jsessionid=1/7", "acme/analyses%20/7"]) {
      const res = await gw(path, { headers: { "X-Api-Key": browseOnly } });
      expect(res.status, path).toBe(403);
      expect(await res.json<Failure>(), path).toMatchObject({ result: 7 });
      // A token that may do both what the path as written and what it may be read as asks gets through.
      expect((await gw(path, { headers: { "X-Api-Key": readOnly } })).status, path).toBe(200);
    }
  });

  it("refuses a segment a lenient server reads as empty or as a dot segment (;x, a space, ..;)", async () => {
    for (const path of [
      "acme/;x/analyses/7",
      "acme/%20/analyses/7",
      "acme/items/..;/analyses/7",
      "acme/items/%2e%2e;/analyses/7",
    ]) {
      const res = await gw(path, { headers: { "X-Api-Key": browseOnly } });
      expect(res.status, path).toBe(400);
      expect(await res.json<Failure>(), path).toMatchObject({ result: 11, error: "invalid_request" });
    }
    expect(upstreamCalls()).toBe(0);
  });

  it("refuses encoded slashes rather than guessing how the upstream reads them", async () => {
    const res = await gw("acme/items%2F..%2Fanalyses", { headers: { "X-Api-Key": full.secret } });
    expect(res.status).toBe(400);
    expect(await res.json<Failure>()).toMatchObject({ result: 11, error: "invalid_request" });
    expect(upstreamCalls()).toBe(0);
  });

  it("denies by default: a method and path no rule names is code 7", async () => {
    const res = await gw("acme/upload", { method: "DELETE", headers: { "X-Api-Key": full.secret } });
    expect(res.status).toBe(403);
    expect(await res.json<Failure>()).toMatchObject({
      result: 7,
      message: "No rule of this upstream admits this path.",
    });
    expect(upstreamCalls()).toBe(0);
  });

  it("answers token failures with the verify JSON and never calls the upstream", async () => {
    const missing = await gw("acme/items");
    expect(missing.status).toBe(401);
    expect(await missing.json<Failure>()).toMatchObject({ result: 1, error: "token_missing" });
    const malformed = await gw("acme/items", { headers: { "X-Api-Key": "tso_not-a-token" } });
    expect(await malformed.json<Failure>()).toMatchObject({ result: 2 });
    const conflicting = await gw(`acme/items?session=${browseOnly}`, { headers: { "X-Api-Key": readOnly } });
    expect(conflicting.status).toBe(400);
    expect(await conflicting.json<Failure>()).toMatchObject({ result: 11 });
    expect(missing.headers.get("cache-control")).toBe("no-store");
    expect(upstreamCalls()).toBe(0);
  });

  it("admits only tokens of the upstream's organization", async () => {
    const res = await gw("acme/items", { headers: { "X-Api-Key": otherOrgs } });
    expect(res.status).toBe(403);
    expect(await res.json<Failure>()).toMatchObject({ result: 7 });
    expect(upstreamCalls()).toBe(0);
  });

  it("checks the project named by the first path segment (code 8)", async () => {
    const inScope = await gw(`per-project/${org.projectKeys.alpha}/x`, { headers: { "X-Api-Key": alphaOnly } });
    expect(inScope.status).toBe(200);
    const outOfScope = await gw(`per-project/${org.projectKeys.beta}/x`, { headers: { "X-Api-Key": alphaOnly } });
    expect(outOfScope.status).toBe(403);
    expect(await outOfScope.json<Failure>()).toMatchObject({ result: 8, error: "project_out_of_scope" });
    const none = await gw("per-project/", { headers: { "X-Api-Key": alphaOnly } });
    expect(none.status).toBe(400);
    expect(upstreamCalls()).toBe(1);
  });

  it("answers an unknown upstream name in the verify envelope, as another organization's upstream", async () => {
    const res = await gw("nobody/items", { headers: { "X-Api-Key": full.secret } });
    expect(res.status).toBe(403);
    expect(await res.json<Failure>()).toMatchObject({ result: 7, valid: false, error: "permission_denied" });
  });

  it("sees rule changes and deletions made through the data functions at once", async () => {
    const now = Date.now();
    await createUpstream(
      storeEnv(env),
      org.orgId,
      {
        name: "changing",
        origin: UPSTREAM,
        rules: [{ method: "*", pathPrefix: "/", permission: "project:browse" }],
        projectFromPath: false,
      },
      SYSTEM_ACTOR,
      now,
    );
    expect((await gw("changing/x", { headers: { "X-Api-Key": browseOnly } })).status).toBe(200);
    await updateUpstream(
      storeEnv(env),
      org.orgId,
      "changing",
      { rules: [{ method: "*", pathPrefix: "/", permission: "analysis:execute" }] },
      SYSTEM_ACTOR,
      now,
    );
    expect((await gw("changing/x", { headers: { "X-Api-Key": browseOnly } })).status).toBe(403);
    await deleteUpstream(storeEnv(env), org.orgId, "changing", SYSTEM_ACTOR, now);
    expect((await gw("changing/x", { headers: { "X-Api-Key": full.secret } })).status).toBe(403);
  });
});

describe("what the client gets back", () => {
  it("gets the upstream's own error answers as they are", async () => {
    const res = await gw("acme/items", { headers: { "X-Api-Key": browseOnly, "x-upstream-mode": "fail" } });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("upstream broke");
  });

  it("gets redirects passed back, not followed", async () => {
    const res = await gw("acme/items", {
      headers: { "X-Api-Key": browseOnly, "x-upstream-mode": "redirect" },
      redirect: "manual",
    });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${UPSTREAM}/elsewhere`);
    expect(upstreamCalls()).toBe(1);
  });

  it("never gets a cookie set by an upstream on Tessera's host, nor hop-by-hop headers", async () => {
    const res = await gw("acme/items", { headers: { "X-Api-Key": browseOnly, "x-upstream-mode": "cookies" } });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(res.headers.get("connection")).toBeNull();
  });

  it("gets 502 upstream_error (code 12) when the upstream cannot be reached", async () => {
    const res = await gw("dead/items", { headers: { "X-Api-Key": browseOnly } });
    expect(res.status).toBe(502);
    expect(await res.json<Failure>()).toMatchObject({ result: 12, valid: false, error: "upstream_error" });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("gets 504 upstream_timeout (code 13) when the upstream is too slow to answer", async () => {
    // The production limit is UPSTREAM_HEADERS_TIMEOUT_MS (30 s); the handler takes it as a parameter.
    const request = new Request(`${TESSERA}/gw/acme/items`, {
      headers: { "X-Api-Key": browseOnly, "x-upstream-mode": "slow" },
    });
    const res = await handleGateway(
      { env, waitUntil: () => {}, now: () => Date.now() },
      { request, name: "acme", rawPath: "/items", clientIp: "203.0.113.1" },
      50,
    );
    expect(res.status).toBe(504);
    expect(await res.json<Failure>()).toMatchObject({ result: 13, valid: false, error: "upstream_timeout" });
  });
});
