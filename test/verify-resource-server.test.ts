import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RpcVerifyOptions, TesseraRpc } from "../worker/rpc";
import { generateTokenSecret } from "../worker/tokens/format";
import { memoryCache } from "../worker/tokens/memory-cache";
import { configuredUnknownTokenLimit } from "./support/configured-limits";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { ORIGIN, readVerify, viaHandler } from "./support/verify-client";

const { limit: RATE } = configuredUnknownTokenLimit();
const VOLUME = { timeout: 60_000 };
let org: OrgFixture;
let serverToken: string;
let nextHost = 0;
/** An address no other test used: the real limiter keeps its counts for the whole file. */
const freshIp = () => `192.0.2.${++nextHost}`;

beforeAll(async () => {
  org = await makeOrg();
  serverToken = (await makeToken(org, { permissions: ["tokens:introspect"] })).secret;
});
beforeEach(() => resetIsolateCaches());

/** A limiter that allows `allowed` calls per key, then refuses: the binding's contract, minus the wall clock. */
function strictLimiter(allowed: number): RateLimit {
  const seen = new Map<string, number>();
  return {
    async limit({ key }) {
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      return { success: n <= allowed };
    },
  };
}

interface Through {
  /** The resource server's address, as Tessera sees it. */
  from: string;
  /** The end client's address the server reports; absent: none. */
  clientIp?: string;
  /** The server's own credential; absent: an anonymous caller. */
  caller?: string;
  bindings?: Env;
}

/** `/v1/verify` as a resource server sends it for one of its clients. */
async function verifyFor(token: string, t: Through) {
  const url = new URL(`${ORIGIN}/v1/verify`);
  if (t.clientIp !== undefined) url.searchParams.set("clientIp", t.clientIp);
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, "CF-Connecting-IP": t.from };
  if (t.caller !== undefined) headers["X-Tessera-Caller"] = `Bearer ${t.caller}`;
  const res = await viaHandler(new Request(url, { headers }), t.bindings ?? env);
  return { status: res.status, ...(await readVerify(res)) };
}

/** A real token no isolate or KV has seen: its verification reaches D1. */
async function coldToken(): Promise<string> {
  const { secret } = await makeToken(org);
  await dropFromKv(secret);
  // The isolate's memory too (making it cached it there), but not its block list.
  memoryCache.clear();
  return secret;
}

describe("a flood through a resource server", () => {
  it("refuses only the flooding client: the server's other clients keep verifying", VOLUME, async () => {
    const server = freshIp();
    const flooder = "198.51.100.66";
    const through = { from: server, caller: serverToken };
    const results: number[] = [];
    for (let i = 0; i < 2 * RATE + 5 && !results.includes(9); i++)
      results.push((await verifyFor(generateTokenSecret("org"), { ...through, clientIp: flooder })).result);
    expect(results.at(-1)).toBe(9);
    expect(results.length).toBeGreaterThan(RATE);

    // Another client of the same server, an uncached real token: verified.
    expect((await verifyFor(await coldToken(), { ...through, clientIp: "198.51.100.67" })).result).toBe(0);
    // The flooder itself stays refused on cache misses, as it would be calling directly.
    expect((await verifyFor(await coldToken(), { ...through, clientIp: flooder })).result).toBe(9);
    // And the server's own address is not blocked for anonymous calls either.
    expect((await verifyFor(await coldToken(), { from: server })).result).toBe(0);
  });

  it("without X-Tessera-Caller is counted by the caller's address, whatever clientIp it names", async () => {
    const server = freshIp();
    const bindings = { ...env, UNKNOWN_TOKEN_LIMITER: strictLimiter(2) };
    const anonymous = { from: server, bindings };
    expect((await verifyFor(generateTokenSecret("org"), { ...anonymous, clientIp: "198.51.100.1" })).result).toBe(3);
    expect((await verifyFor(generateTokenSecret("org"), { ...anonymous, clientIp: "198.51.100.2" })).result).toBe(3);
    expect((await verifyFor(generateTokenSecret("org"), { ...anonymous, clientIp: "198.51.100.3" })).result).toBe(9);
    expect((await verifyFor(await coldToken(), { ...anonymous, clientIp: "198.51.100.4" })).result).toBe(9);
  });

  it("stops at the resource server's overall cap, however many addresses it names", async () => {
    const server = freshIp();
    const bindings = { ...env, RESOURCE_SERVER_LIMITER: strictLimiter(3) };
    const through = { from: server, caller: serverToken, bindings };
    for (const client of ["198.51.100.11", "198.51.100.12", "198.51.100.13"])
      expect((await verifyFor(generateTokenSecret("org"), { ...through, clientIp: client })).result).toBe(3);
    expect((await verifyFor(generateTokenSecret("org"), { ...through, clientIp: "198.51.100.14" })).result).toBe(9);
    expect((await verifyFor(await coldToken(), { ...through, clientIp: "198.51.100.15" })).result).toBe(9);
    // Another resource server, and anonymous callers, are not affected.
    const other = (await makeToken(org, { admin: true, permissions: [] })).secret;
    expect((await verifyFor(await coldToken(), { ...through, caller: other, clientIp: "198.51.100.15" })).result).toBe(
      0,
    );
    expect((await verifyFor(await coldToken(), { from: server, bindings })).result).toBe(0);
  });

  it("counts each end client per resource server: one server cannot block a client for another", async () => {
    const bindings = { ...env, UNKNOWN_TOKEN_LIMITER: strictLimiter(1) };
    const victim = "198.51.100.21";
    const through = { from: freshIp(), caller: serverToken, bindings, clientIp: victim };
    expect((await verifyFor(generateTokenSecret("org"), through)).result).toBe(3);
    expect((await verifyFor(generateTokenSecret("org"), through)).result).toBe(9);
    const other = (await makeToken(org, { permissions: ["tokens:introspect"] })).secret;
    expect((await verifyFor(await coldToken(), { ...through, caller: other })).result).toBe(0);
    expect((await verifyFor(await coldToken(), { from: victim, bindings })).result).toBe(0);
  });
});

describe("the resource server's credential", () => {
  it("must be an admin token or hold tokens:introspect; anything else is code 11, not the client's 401", async () => {
    const plain = (await makeToken(org, { permissions: ["analysis:read"] })).secret;
    const client = (await makeToken(org)).secret;
    for (const caller of [plain, generateTokenSecret("org"), "nonsense"]) {
      const answer = await verifyFor(client, { from: freshIp(), caller, clientIp: "198.51.100.30" });
      expect(answer).toMatchObject({ status: 400, result: 11, error: "invalid_request" });
    }
    const res = await viaHandler(
      new Request(`${ORIGIN}/v1/verify`, {
        headers: { Authorization: `Bearer ${client}`, "X-Tessera-Caller": "Basic x" },
      }),
    );
    expect(res.status).toBe(400);
  });

  it("comes with a well-formed clientIp, in the query or the body, never two different ones", async () => {
    const client = (await makeToken(org)).secret;
    const base = { from: freshIp(), caller: serverToken };
    expect((await verifyFor(client, { ...base, clientIp: "not an address" })).result).toBe(11);
    expect((await verifyFor(client, { ...base, clientIp: "2001:db8::1" })).result).toBe(0);
    const post = (body: object, query = "") =>
      viaHandler(
        new Request(`${ORIGIN}/v1/verify${query}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${client}`, "X-Tessera-Caller": `Bearer ${serverToken}` },
          body: JSON.stringify(body),
        }),
      );
    expect((await post({ clientIp: "198.51.100.31" })).status).toBe(200);
    expect((await post({ clientIp: "198.51.100.31" }, "?clientIp=198.51.100.32")).status).toBe(400);
  });
});

describe("the token's last addresses", () => {
  const addressesOf = async (tokenId: string) =>
    (await env.DB.prepare("SELECT ip FROM token_usage WHERE token_id = ?").bind(tokenId).all<{ ip: string }>()).results
      .map((r) => r.ip)
      .sort();

  it("record the end client a resource server names, not the server's address", async () => {
    const client = await makeToken(org);
    const answer = await verifyFor(client.secret, {
      from: "192.0.2.200",
      caller: serverToken,
      clientIp: "198.51.100.40",
    });
    expect(answer.result).toBe(0);
    expect(await addressesOf(client.token.id)).toEqual(["198.51.100.40"]);
  });

  it("record the connecting address for an anonymous caller, as before", async () => {
    const client = await makeToken(org);
    expect((await verifyFor(client.secret, { from: "192.0.2.201", clientIp: "198.51.100.41" })).result).toBe(0);
    expect(await addressesOf(client.token.id)).toEqual(["192.0.2.201"]);
  });
});

describe("over RPC", () => {
  async function rpc(token: string, options: RpcVerifyOptions, bindings: Env) {
    const ctx = createExecutionContext();
    const result = await new TesseraRpc(ctx, bindings).verify(token, options);
    await waitOnExecutionContext(ctx);
    return result;
  }

  it("a caller option counts per end client; without it every client counts as the binding's, as before", async () => {
    const bindings = { ...env, UNKNOWN_TOKEN_LIMITER: strictLimiter(1) };
    const caller = serverToken;
    expect((await rpc(generateTokenSecret("org"), { caller, clientIp: "198.51.100.50" }, bindings)).result).toBe(3);
    expect((await rpc(generateTokenSecret("org"), { caller, clientIp: "198.51.100.50" }, bindings)).result).toBe(9);
    expect((await rpc(await coldToken(), { caller, clientIp: "198.51.100.51" }, bindings)).result).toBe(0);
    expect((await rpc(await coldToken(), { caller: "nonsense", clientIp: "198.51.100.51" }, bindings)).result).toBe(11);
  });
});
