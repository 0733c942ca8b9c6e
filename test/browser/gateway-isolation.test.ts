// Issue 11, item 1: an org admin points an upstream at a server they control and sends the instance
// owner a /gw/ link. The page it answers is served on Tessera's own origin, where the owner's
// console cookie lives; it must not run, and nothing may reach the console's API on the owner's
// behalf. Uses the owner and organization console.test.ts creates (or creates them if it has not run).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseUrl, call, launch, newPage, ORG, OWNER, shot, signInOwner } from "./browser";
import { startHostileUpstream, TAKEN_OVER } from "./hostile-upstream.mjs";

const SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let upstream: Awaited<ReturnType<typeof startHostileUpstream>>;

beforeAll(async () => {
  browser = await launch();
  ({ context, page } = await newPage(browser));
  upstream = await startHostileUpstream();
});
afterAll(async () => {
  await browser?.close();
  await upstream?.close();
});

describe("gateway isolation", () => {
  it("signs in over http://127.0.0.1 with the host-locked __Host-tessera_session cookie", async () => {
    expect(await signInOwner(page)).toBeLessThan(300);
    // Chromium counts loopback as a secure context, so it keeps a Secure, __Host- cookie over plain http.
    const cookies = await context.cookies(baseUrl);
    expect(cookies.map((c) => c.name)).toEqual(["__Host-tessera_session"]);
    expect(cookies[0]).toMatchObject({ secure: true, httpOnly: true, path: "/", sameSite: "Strict" });
    expect((await call(page, "GET", "/api/me")).status).toBe(200);
  });

  it("a hostile upstream's page opened by the signed-in owner runs no script and reaches nothing of the console", async () => {
    expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
    const made = await call<{ secret: string }>(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
      kind: "org",
      name: "Gateway isolation",
      expiresAt: null,
      projects: "*",
      permissions: ["project:browse"],
    });
    expect(made.status).toBe(201);
    const rules = [{ method: "GET", pathPrefix: "/", permission: "project:browse" }];
    const created = await call(page, "POST", `/api/orgs/${ORG.slug}/upstreams`, {
      name: "hostile",
      origin: upstream.origin,
      rules,
    });
    expect(created.status).toBe(201);
    const sessionBefore = (await context.cookies(baseUrl))[0]!.value;

    const requested: string[] = [];
    page.on("request", (r) => requested.push(new URL(r.url()).pathname));
    const answer = await page.goto(`/gw/hostile/welcome?access_token=${made.body.secret}`);
    await page.waitForLoadState("networkidle");

    expect(answer!.status()).toBe(200);
    expect(upstream.hits()).toBe(1); // the gateway did serve the upstream's page
    expect(requested.filter((p) => p.startsWith("/api/"))).toEqual([]);
    expect(await page.title()).not.toBe(TAKEN_OVER);
    expect(await page.title()).toBe("hostile upstream");
    expect(answer!.headers()["content-security-policy"]).toBe(SANDBOX);
    expect(answer!.headers()["set-cookie"]).toBeUndefined();
    expect(answer!.headers()["service-worker-allowed"]).toBeUndefined();
    // The owner's session is untouched: no cookie was planted over it.
    expect((await context.cookies(baseUrl)).map((c) => [c.name, c.value])).toEqual([
      ["__Host-tessera_session", sessionBefore],
    ]);
    await shot(page, "gateway-hostile-page");
  });
});
