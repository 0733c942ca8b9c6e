import { exports } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ipAllowed, normalizeRange, rangeWithin } from "../worker/verify/ip-allowlist";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";
import { resetIsolateCaches } from "./support/isolate";
import { kvEntryOf } from "./support/kv-entries";
import { bearer, readVerify, verifyUrl, viaEntrypoint } from "./support/verify-client";

// A token's IP allowlist: the CIDR matcher itself, then the API that sets it and every way in that
// verifies against it (docs/DESIGN.md §2, §3; docs/API.md "IP allowlists").

describe("normalizeRange", () => {
  it.each([
    ["203.0.113.9", "203.0.113.9/32"],
    ["203.0.113.77/24", "203.0.113.0/24"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1/128"],
    ["2001:db8::ff/64", "2001:db8::/64"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1/128"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7/128"],
    ["::", "::/128"],
    ["::/0", "::/0"],
    ["::1", "::1/128"],
    ["::ffff:203.0.113.5/120", "203.0.113.0/24"],
    ["::ffff:203.0.113.5", "203.0.113.5/32"],
    ["64:ff9b::192.0.2.33/96", "64:ff9b::/96"],
  ])("%s is %s", (given, expected) => {
    expect(normalizeRange(given)).toBe(expected);
  });

  it.each([
    "",
    "local",
    "300.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "1.2.3.4/33",
    "1.2.3.4/",
    "1.2.3.4/-1",
    "1.2.3.4/08",
    "::1/129",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "g::1",
    "1.2.3.4::",
    "::1.2.3",
    "fe80::1%eth0",
    "fe80::%1/64",
    "[::1]",
  ])("refuses %j", (given) => {
    expect(normalizeRange(given)).toBeNull();
  });
});

describe("ipAllowed", () => {
  const v4 = ["203.0.113.0/24"];
  const v6 = ["2001:db8::/64"];

  it("admits the first and last address of an IPv4 range, and nothing one past either end", () => {
    expect(ipAllowed(v4, "203.0.113.0")).toBe(true);
    expect(ipAllowed(v4, "203.0.113.255")).toBe(true);
    expect(ipAllowed(v4, "203.0.114.0")).toBe(false);
    expect(ipAllowed(v4, "203.0.112.255")).toBe(false);
  });

  it("admits a v4-mapped IPv6 client of an IPv4 range, in either spelling", () => {
    expect(ipAllowed(v4, "::ffff:203.0.113.9")).toBe(true);
    expect(ipAllowed(v4, "::ffff:cb00:7109")).toBe(true);
    expect(ipAllowed(v4, "::ffff:203.0.114.9")).toBe(false);
    // Not mapped: an IPv6 address whose low bits happen to spell the same number.
    expect(ipAllowed(v4, "::203.0.113.9")).toBe(false);
  });

  it("admits the first and last address of an IPv6 range, and nothing one past either end", () => {
    expect(ipAllowed(v6, "2001:db8::")).toBe(true);
    expect(ipAllowed(v6, "2001:db8::ffff:ffff:ffff:ffff")).toBe(true);
    expect(ipAllowed(v6, "2001:db8:0:1::")).toBe(false);
    expect(ipAllowed(v6, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(false);
    expect(ipAllowed(v6, "2001:DB8::1")).toBe(true);
    expect(ipAllowed(v6, "[2001:db8::1]")).toBe(true);
  });

  it("matches single addresses and prefixes that are not a multiple of 8 or 32", () => {
    expect(ipAllowed(["198.51.100.7/32"], "198.51.100.7")).toBe(true);
    expect(ipAllowed(["198.51.100.7/32"], "198.51.100.8")).toBe(false);
    expect(ipAllowed(["10.0.0.0/15"], "10.1.255.255")).toBe(true);
    expect(ipAllowed(["10.0.0.0/15"], "10.2.0.0")).toBe(false);
    expect(ipAllowed(["2001:db8::/33"], "2001:db8:7fff::1")).toBe(true);
    expect(ipAllowed(["2001:db8::/33"], "2001:db8:8000::")).toBe(false);
    expect(ipAllowed(["::1/128"], "::1")).toBe(true);
  });

  it("admits nothing that is not an address, and any address under ::/0", () => {
    expect(ipAllowed(["0.0.0.0/0"], "local")).toBe(false);
    expect(ipAllowed(["0.0.0.0/0"], "service-binding")).toBe(false);
    expect(ipAllowed(["0.0.0.0/0"], "2001:db8::1")).toBe(false);
    expect(ipAllowed(["::/0"], "2001:db8::1")).toBe(true);
    expect(ipAllowed(["::/0"], "192.0.2.1")).toBe(true);
  });
});

describe("rangeWithin", () => {
  it("holds a range inside one of the others, never one that reaches past all of them", () => {
    expect(rangeWithin("203.0.113.128/25", ["203.0.113.0/24"])).toBe(true);
    expect(rangeWithin("203.0.113.0/24", ["203.0.113.0/24"])).toBe(true);
    expect(rangeWithin("203.0.112.0/23", ["203.0.113.0/24"])).toBe(false);
    expect(rangeWithin("198.51.100.7/32", ["203.0.113.0/24", "198.51.100.0/30"])).toBe(false);
    expect(rangeWithin("198.51.100.3/32", ["203.0.113.0/24", "198.51.100.0/30"])).toBe(true);
    expect(rangeWithin("2001:db8::/80", ["2001:db8::/64"])).toBe(true);
    expect(rangeWithin("2001:db8::/48", ["2001:db8::/64"])).toBe(false);
    // An IPv4 range is inside ::/0 (held as v4-mapped IPv6), and ::/0 inside no IPv4 range.
    expect(rangeWithin("203.0.113.0/24", ["::/0"])).toBe(true);
    expect(rangeWithin("::/0", ["0.0.0.0/0"])).toBe(false);
  });
});

let cookie: string;
let serverToken: string;

const tokenBody = (over: Record<string, unknown> = {}) => ({
  kind: "org",
  name: `fenced ${crypto.randomUUID().slice(0, 8)}`,
  expiresAt: null,
  projects: "*",
  permissions: ["analysis:execute"],
  ...over,
});

async function fencedToken(allowedIps: string[]) {
  const res = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody({ allowedIps }) });
  expect(res.status).toBe(201);
  return res.body as { token: { id: string; allowedIps: string[] | null }; secret: string };
}

const verifyFrom = async (secret: string, ip: string) => readVerify(await viaEntrypoint(bearer(secret, ip)));

beforeAll(async () => {
  cookie = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(cookie, OWNER.password);
  const server = await api("POST", "/api/orgs/acme/tokens", {
    cookie,
    body: tokenBody({ permissions: ["tokens:introspect"] }),
  });
  serverToken = server.body.secret;
});
beforeEach(() => resetIsolateCaches());

describe("setting an allowlist", () => {
  it("stores the ranges normalized, shows them, and a token without one shows null", async () => {
    const made = await fencedToken(["203.0.113.77/24", "2001:DB8::5/64", "198.51.100.7", "203.0.113.0/24"]);
    expect(made.token.allowedIps).toEqual(["203.0.113.0/24", "2001:db8::/64", "198.51.100.7/32"]);
    const plain = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody() });
    expect(plain.body.token.allowedIps).toBeNull();
  });

  it("refuses a range that is not one, and more than 20, with 422 naming allowedIps", async () => {
    const bad = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ allowedIps: ["10.0.0.0/33"] }),
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.fields.allowedIps).toMatch(/"10\.0\.0\.0\/33" is not an IPv4 or IPv6/);
    const many = Array.from({ length: 21 }, (_, i) => `10.0.${i}.0/24`);
    const tooMany = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody({ allowedIps: many }) });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error.details.fields.allowedIps).toMatch(/at most 20/);
  });

  it("is edited with PATCH (null opens the token to any address) and copied by Copy", async () => {
    const { token, secret } = await fencedToken(["203.0.113.0/24"]);
    expect(await verifyFrom(secret, "198.51.100.7")).toMatchObject({ result: 14 });

    const widened = await api("PATCH", `/api/orgs/acme/tokens/${token.id}`, {
      cookie,
      body: { allowedIps: ["198.51.100.0/24"] },
    });
    expect(widened.status).toBe(200);
    expect(widened.body.allowedIps).toEqual(["198.51.100.0/24"]);
    // The change overwrote the cached entry: the next verification in this isolate sees it.
    expect(await verifyFrom(secret, "198.51.100.7")).toMatchObject({ result: 0 });
    expect(await verifyFrom(secret, "203.0.113.9")).toMatchObject({ result: 14 });

    const bad = await api("PATCH", `/api/orgs/acme/tokens/${token.id}`, { cookie, body: { allowedIps: ["nope"] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.fields).toHaveProperty("allowedIps");

    const copy = await api("POST", `/api/orgs/acme/tokens/${token.id}/copy`, { cookie, body: {} });
    expect(copy.body.token.allowedIps).toEqual(["198.51.100.0/24"]);
    expect(await verifyFrom(copy.body.secret, "203.0.113.9")).toMatchObject({ result: 14 });

    const opened = await api("PATCH", `/api/orgs/acme/tokens/${token.id}`, { cookie, body: { allowedIps: null } });
    expect(opened.body.allowedIps).toBeNull();
    expect(await verifyFrom(secret, "203.0.113.9")).toMatchObject({ result: 0 });
    const audit = await api("GET", "/api/orgs/acme/audit?action=token.updated", { cookie });
    expect(JSON.stringify(audit.body)).toContain("198.51.100.0/24");
  });
});

describe("verify refuses a request from elsewhere with 14 ip_not_allowed", () => {
  it("answers 403 code 14 outside, and the token object inside, for IPv4, IPv6 and v4-mapped clients", async () => {
    const { secret } = await fencedToken(["203.0.113.0/24", "2001:db8::/64"]);
    const outside = await viaEntrypoint(bearer(secret, "203.0.114.0"));
    expect(outside.status).toBe(403);
    expect(await outside.json()).toEqual({
      result: 14,
      valid: false,
      error: "ip_not_allowed",
      message: "The token may not be used from this address.",
    });
    for (const inside of ["203.0.113.0", "203.0.113.255", "::ffff:203.0.113.9", "2001:db8::1"])
      expect(await verifyFrom(secret, inside)).toMatchObject({ result: 0, valid: true });
    for (const outsider of ["203.0.112.255", "2001:db8:0:1::", "::ffff:203.0.114.1"])
      expect(await verifyFrom(secret, outsider)).toMatchObject({ result: 14 });
  });

  it("checks the end client a resource server names, not the server's own address", async () => {
    const { secret } = await fencedToken(["203.0.113.0/24"]);
    const asServer = (clientIp: string) =>
      viaEntrypoint(
        new Request(verifyUrl(), {
          method: "POST",
          headers: {
            Authorization: `Bearer ${secret}`,
            "X-Tessera-Caller": `Bearer ${serverToken}`,
            "CF-Connecting-IP": "192.0.2.50",
            "Content-Type": "application/json",
          },
          body: JSON.stringify({ clientIp }),
        }),
      );
    expect(await readVerify(await asServer("203.0.113.9"))).toMatchObject({ result: 0 });
    expect(await readVerify(await asServer("192.0.2.50"))).toMatchObject({ result: 14 });
  });

  it("ignores the clientIp an anonymous caller names: its own address is checked", async () => {
    const { secret } = await fencedToken(["203.0.113.0/24"]);
    const res = await viaEntrypoint(
      new Request(verifyUrl(), {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}`, "CF-Connecting-IP": "192.0.2.50" },
        body: JSON.stringify({ clientIp: "203.0.113.9" }),
      }),
    );
    expect(await readVerify(res)).toMatchObject({ result: 14 });
  });

  it("over RPC: the caller's clientIp counts when it authenticates; without it the binding has no address", async () => {
    const { secret } = await fencedToken(["2001:db8::/64"]);
    expect(await exports.TesseraRpc.verify(secret, { clientIp: "2001:db8::9", caller: serverToken })).toMatchObject({
      result: 0,
    });
    expect(await exports.TesseraRpc.verify(secret, { clientIp: "2001:db9::9", caller: serverToken })).toMatchObject({
      result: 14,
      status: 403,
      error: "ip_not_allowed",
    });
    expect(await exports.TesseraRpc.verify(secret, {})).toMatchObject({ result: 14 });
    // An address named without authenticating counts for throttling, never for the allowlist.
    expect(await exports.TesseraRpc.verify(secret, { clientIp: "2001:db8::9" })).toMatchObject({ result: 14 });
  });

  it("through the gateway, the gateway's client is checked", async () => {
    const { secret } = await fencedToken(["203.0.113.0/24"]);
    const res = await viaEntrypoint(
      new Request("https://tessera.test/gw/nothing-here/x", {
        headers: { Authorization: `Bearer ${secret}`, "CF-Connecting-IP": "192.0.2.1" },
      }),
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ result: 14, error: "ip_not_allowed" });
  });

  it("introspection of a token asked from a disallowed address is inactive", async () => {
    const { secret } = await fencedToken(["203.0.113.0/24"]);
    const ask = (ip: string) =>
      exports.default.fetch("https://tessera.test/oauth/introspect", {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Bearer ${serverToken}`,
          "CF-Connecting-IP": ip,
        },
        body: new URLSearchParams({ token: secret }).toString(),
      });
    expect(await (await ask("192.0.2.1")).json()).toEqual({ active: false });
    expect(await (await ask("203.0.113.20")).json()).toMatchObject({ active: true });
  });

  it("an admin token outside its allowlist cannot use the management API", async () => {
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({ admin: true, permissions: ["manage:tokens"], allowedIps: ["203.0.113.0/24"] }),
    });
    const outside = await api("GET", "/api/orgs/acme/tokens", { token: made.body.secret, ip: "192.0.2.1" });
    expect(outside.status).toBe(403);
    const inside = await api("GET", "/api/orgs/acme/tokens", { token: made.body.secret, ip: "203.0.113.1" });
    expect(inside.status).toBe(200);
  });

  it("an allowlisted admin token cannot hand out a token, or a secret, usable from outside its addresses", async () => {
    const fenced = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: tokenBody({
        admin: true,
        permissions: ["manage:tokens", "analysis:execute"],
        allowedIps: ["203.0.113.0/24"],
      }),
    });
    const admin = { token: fenced.body.secret as string, ip: "203.0.113.5" };
    const refused = async (res: { status: number; body: any }) => {
      expect(res.status).toBe(403);
      expect(res.body.error.details.fields.allowedIps).toBeTruthy();
    };
    // Lifting or widening its own list.
    const self = `/api/orgs/acme/tokens/${fenced.body.token.id}`;
    await refused(await api("PATCH", self, { ...admin, body: { allowedIps: null } }));
    await refused(await api("PATCH", self, { ...admin, body: { allowedIps: ["203.0.0.0/16"] } }));
    // Minting a token with no list, or a wider one.
    await refused(await api("POST", "/api/orgs/acme/tokens", { ...admin, body: tokenBody() }));
    await refused(
      await api("POST", "/api/orgs/acme/tokens", { ...admin, body: tokenBody({ allowedIps: ["0.0.0.0/0"] }) }),
    );
    // Taking the secret of, or copying, a token usable from anywhere.
    const open = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody() });
    await refused(await api("POST", `/api/orgs/acme/tokens/${open.body.token.id}/regenerate`, { ...admin, body: {} }));
    await refused(await api("POST", `/api/orgs/acme/tokens/${open.body.token.id}/copy`, { ...admin, body: {} }));
    // Within its addresses, all of that works.
    const inside = await api("POST", "/api/orgs/acme/tokens", {
      ...admin,
      body: tokenBody({ allowedIps: ["203.0.113.128/25"] }),
    });
    expect(inside.status).toBe(201);
    expect(inside.body.token.allowedIps).toEqual(["203.0.113.128/25"]);
    const narrowed = await api("PATCH", self, { ...admin, body: { allowedIps: ["203.0.113.0/28"] } });
    expect(narrowed.status).toBe(200);
    expect((await api("GET", "/api/orgs/acme/tokens", { token: admin.token, ip: "203.0.113.200" })).status).toBe(403);
  });

  it("a token without an allowlist carries no allowlist field in its cache entry", async () => {
    const plain = await api("POST", "/api/orgs/acme/tokens", { cookie, body: tokenBody() });
    const entry = await kvEntryOf(plain.body.secret);
    expect(entry?.token).not.toHaveProperty("allowedIps");
    expect(entry?.token).not.toHaveProperty("oldSecretUntil");
  });
});
