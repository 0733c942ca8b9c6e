import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp, type TesseraConnection } from "../examples/node-http/src/app";
import exampleSource from "../examples/node-http/src/app.ts?raw";
import serverSource from "../examples/node-http/src/server.ts?raw";
import { generateTokenSecret } from "../worker/tokens/format";
import { docExample } from "./support/doc-examples";
import { envWithFailing, refusingLimiter } from "./support/failing";
import { makeOrg, makeToken } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { viaHandler } from "./support/verify-client";

// examples/node-http, the Hono middleware for servers that reach Tessera over HTTP, run with
// `app.request()` and its fetch pointed at Tessera's own handler: no port, and every answer is
// Tessera's real one (with failing or refusing bindings for 503 and 429).

const TESSERA = "https://tessera.test";
const CLIENT = "198.51.100.23";

/** The example app, talking to Tessera with `bindings`; `sent` records what it asked /v1/verify. */
function exampleApp(bindings: Env = env, extra: Partial<TesseraConnection> = {}) {
  const sent: Request[] = [];
  const app = createApp({
    baseUrl: TESSERA,
    clientIp: () => CLIENT,
    fetch: (request) => {
      sent.push(request.clone());
      return viaHandler(request, bindings);
    },
    ...extra,
  });
  return { app, sent };
}

const basic = (user: string) => `Basic ${btoa(`${user}:`)}`;

describe("the Node HTTP middleware (examples/node-http)", () => {
  it("reads every carrier Tessera reads and hands the handler the token", async () => {
    const org = await makeOrg();
    const { token, secret } = await makeToken(org, { permissions: ["analysis:read"] });
    const { app } = exampleApp();
    const carriers: [string, RequestInit][] = [
      ["/whoami", { headers: { Authorization: `Bearer ${secret}` } }],
      ["/whoami", { headers: { Authorization: basic(secret) } }],
      ["/whoami", { headers: { "X-Api-Key": secret } }],
      [`/whoami?session=${secret}`, {}],
      [`/whoami?access_token=${secret}`, {}],
    ];
    for (const [path, init] of carriers) {
      const res = await app.request(path, init);
      expect(res.status, path).toBe(200);
      expect(((await res.json()) as { token: { id: string } }).token.id).toBe(token.id);
    }
    const project = org.projectKeys.alpha;
    const res = await app.request(`/projects/${project}/analyses`, { headers: { "X-Api-Key": secret } });
    expect(await res.json()).toEqual({ project, analyses: [], readBy: token.id });
    // Two different tokens are Tessera's 400, passed on.
    const two = await app.request(`/whoami?session=${generateTokenSecret("org")}`, {
      headers: { Authorization: `Bearer ${secret}` },
    });
    expect(two.status).toBe(400);
    expect(await two.json()).toMatchObject({ result: 11, error: "invalid_request" });
  });

  it("answers 401 with WWW-Authenticate, and 403 apart from it", async () => {
    const org = await makeOrg();
    const { secret } = await makeToken(org, { permissions: ["project:browse"] });
    const { app } = exampleApp();

    const missing = await app.request("/whoami");
    expect(missing.status).toBe(401);
    expect(missing.headers.get("WWW-Authenticate")).toBe('Bearer realm="tessera"');
    expect(await missing.json()).toMatchObject({ result: 1, error: "token_missing" });

    const unknown = await app.request("/whoami", {
      headers: { Authorization: `Bearer ${generateTokenSecret("org")}` },
    });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get("WWW-Authenticate")).toBe('Bearer realm="tessera", error="invalid_token"');

    const denied = await app.request(`/projects/${org.projectKeys.alpha}/analyses`, {
      headers: { Authorization: `Bearer ${secret}` },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.has("WWW-Authenticate")).toBe(false);
    expect(await denied.json()).toMatchObject({ result: 7, error: "permission_denied" });
  });

  it("keeps 429 (throttled) and 503 (Tessera's stores down, or Tessera unreachable) apart", async () => {
    const org = await makeOrg();
    const unknown = generateTokenSecret("org");

    const throttled = await exampleApp({ ...env, UNKNOWN_TOKEN_LIMITER: refusingLimiter }).app.request("/whoami", {
      headers: { Authorization: `Bearer ${unknown}` },
    });
    expect(throttled.status).toBe(429);
    expect(await throttled.json()).toMatchObject({ result: 9, error: "rate_limited" });

    const { secret } = await makeToken(org);
    resetIsolateCaches();
    const down = await exampleApp(envWithFailing(["DB", "TOKEN_CACHE"]).env).app.request("/whoami", {
      headers: { Authorization: `Bearer ${secret}` },
    });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ result: 10, error: "unavailable" });

    const unreachable = exampleApp(env, {
      fetch: () => Promise.reject(new TypeError("connect ECONNREFUSED")),
    }).app.request("/whoami", { headers: { Authorization: `Bearer ${secret}` } });
    expect((await unreachable).status).toBe(503);
    const broken = exampleApp(env, { fetch: async () => new Response("<html>bad gateway</html>", { status: 502 }) });
    const proxied = await broken.app.request("/whoami", { headers: { Authorization: `Bearer ${secret}` } });
    expect(proxied.status).toBe(503);
    expect(await proxied.json()).toMatchObject({ result: 10, valid: false });
  });

  it("sends the client's address as clientIp, and its own token as X-Tessera-Caller when it has one", async () => {
    const org = await makeOrg();
    const { secret } = await makeToken(org);
    const anonymous = exampleApp();
    await anonymous.app.request("/whoami", { headers: { Authorization: `Bearer ${secret}` } });
    const [plain] = anonymous.sent;
    expect(new URL(plain!.url).searchParams.get("clientIp")).toBe(CLIENT);
    expect(plain!.headers.has("X-Tessera-Caller")).toBe(false);

    const { secret: callerToken } = await makeToken(org, { admin: true });
    const identified = exampleApp(env, { callerToken });
    const ok = await identified.app.request("/whoami", { headers: { Authorization: `Bearer ${secret}` } });
    expect(ok.status).toBe(200);
    expect(identified.sent[0]!.headers.get("X-Tessera-Caller")).toBe(`Bearer ${callerToken}`);
    // The client's carriers go to Tessera, the request's other headers do not.
    expect([...identified.sent[0]!.headers.keys()].sort()).toEqual(["authorization", "x-tessera-caller"]);
  });

  it("is what docs/INTEGRATION.md shows", () => {
    expect(exampleSource).toContain(docExample("node-middleware"));
    expect(serverSource).toContain(docExample("node-server"));
  });
});
