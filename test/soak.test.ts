import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { SYSTEM_ACTOR } from "../worker/audit/events";
import { createUpstream } from "../worker/gateway/upstreams";
import worker from "../worker/index";
import { generateTokenSecret } from "../worker/tokens/format";
import { memoryCache } from "../worker/tokens/memory-cache";
import { storeEnv } from "./support/d1";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { resetIsolateCaches } from "./support/isolate";

// The short soak (the 60-second one is `npm run soak`): a fixed number of mixed requests from
// concurrent clients in one isolate, a cron run in the middle, management writes throughout, and a
// hot token revoked mid-run. Every answer must be the one its request calls for, and nothing may
// reach the error log.

const TESSERA = "https://tessera.test";
const UPSTREAM = "https://soak-upstream.test";
const REQUESTS = 600;
// Generous: the run is bounded by its request count, and takes a few seconds on a quiet machine.
const TIMEOUT_MS = 60_000;
const LANES = 8;
const PERMISSION = "analysis:execute";
// Unknown tokens come from many addresses, each far below the code-9 rate, so 3 is the one right answer.
const UNKNOWN_CLIENTS = 64;

/** Deterministic choices (mulberry32), so a failure replays the same traffic. */
function prng(seed: number) {
  let a = seed;
  return (n: number) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n;
  };
}

interface Expect {
  status: number;
  result?: number;
}
interface Token {
  id: string;
  secret: string;
  projects: "*" | string[];
}

let org: OrgFixture;
let everything: Token[];
let alphaOnly: Token[];
let hot: Token;
let admin: string;
const upstreamCalls: string[] = [];
const realFetch = globalThis.fetch;

beforeAll(async () => {
  vi.spyOn(globalThis, "fetch").mockImplementation((input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    if (new URL(request.url).origin !== UPSTREAM) return realFetch(input, init);
    upstreamCalls.push(request.headers.get("x-tessera-token-id") ?? "none");
    return Promise.resolve(Response.json({ ok: true }));
  });
  org = await makeOrg();
  const made = async (projects: "*" | string[]) => {
    const { token, secret } = await makeToken(org, { projects });
    return { id: token.id, secret, projects };
  };
  everything = [];
  for (let i = 0; i < 20; i++) everything.push(await made("*"));
  alphaOnly = [];
  for (let i = 0; i < 8; i++) alphaOnly.push(await made([org.projectKeys.alpha]));
  hot = await made("*");
  // The token routes the run drives need manage:tokens (docs/API.md, "Management permissions").
  admin = (await makeToken(org, { admin: true, permissions: [PERMISSION, "manage:tokens"] })).secret;
  await createUpstream(
    storeEnv(env),
    org.orgId,
    {
      name: "soak",
      origin: UPSTREAM,
      rules: [{ method: "GET", pathPrefix: "/", permission: PERMISSION }],
      projectFromPath: false,
    },
    SYSTEM_ACTOR,
    Date.now(),
  );
  resetIsolateCaches();
});
afterAll(() => vi.restoreAllMocks());

it("answers a mixed run with a cron run and a revocation in the middle: no unexpected status, no error logged", {
  timeout: TIMEOUT_MS,
}, async () => {
  const errorLog = vi.spyOn(console, "error");
  const random = prng(20261122);
  const pick = <T>(items: T[]) => items[Math.floor(random(items.length))]!;
  const unexpected: string[] = [];
  const counts: Record<string, number> = {};

  async function send(kind: string, path: string, init: RequestInit & { ip?: string }, expect: Expect): Promise<any> {
    counts[kind] = (counts[kind] ?? 0) + 1;
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", init.ip ?? "198.51.100.50");
    const res = await exports.default.fetch(`${TESSERA}${path}`, { ...init, headers });
    const body = res.status === 204 ? null : await res.json<any>();
    if (res.status !== expect.status || (expect.result !== undefined && body?.result !== expect.result)) {
      unexpected.push(
        `${kind}: ${res.status} ${JSON.stringify(body).slice(0, 200)}; expected ${JSON.stringify(expect)}`,
      );
      return null;
    }
    return body;
  }
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const verifyPath = (project: string, permission = PERMISSION) =>
    `/v1/verify?permission=${permission}&project=${project}`;
  const projectOf = (t: Token) => (t.projects === "*" ? pick(Object.values(org.projectKeys)) : pick(t.projects));
  const adminInit = (method: string, body?: unknown): RequestInit => ({
    method,
    headers: { ...bearer(admin), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const tokensApi = `/api/orgs/${org.orgSlug}/tokens`;
  const valid = { status: 200, result: 0 };
  let unknownClient = 0;

  const traffic: [number, () => Promise<unknown>][] = [
    [
      40,
      () => {
        const t = pick(everything);
        return send("hit", verifyPath(projectOf(t)), { headers: bearer(t.secret) }, valid);
      },
    ],
    [
      8,
      () => {
        memoryCache.clear();
        const t = pick(everything);
        return send("from KV", verifyPath(projectOf(t)), { headers: bearer(t.secret) }, valid);
      },
    ],
    [
      8,
      () =>
        send(
          "unknown",
          verifyPath(org.projectKeys.alpha),
          { headers: bearer(generateTokenSecret("org")), ip: `203.0.113.${unknownClient++ % UNKNOWN_CLIENTS}` },
          { status: 401, result: 3 },
        ),
    ],
    [
      10,
      () =>
        send(
          "garbage",
          `/v1/verify?session=${encodeURIComponent(generateTokenSecret("org").slice(0, 1 + Math.floor(random(39))))}`,
          {},
          { status: 401, result: 2 },
        ),
    ],
    [3, () => send("no token", verifyPath(org.projectKeys.alpha), {}, { status: 401, result: 1 })],
    [
      5,
      () => {
        const t = pick(everything);
        return send(
          "denied",
          verifyPath(projectOf(t), "issues:write"),
          { headers: bearer(t.secret) },
          { status: 403, result: 7 },
        );
      },
    ],
    [
      5,
      () =>
        send(
          "out of scope",
          verifyPath(org.projectKeys.beta),
          { headers: bearer(pick(alphaOnly).secret) },
          { status: 403, result: 8 },
        ),
    ],
    [
      3,
      () =>
        send(
          "two tokens",
          `/v1/verify?access_token=${pick(everything).secret}`,
          { headers: bearer(pick(alphaOnly).secret) },
          { status: 400, result: 11 },
        ),
    ],
    [
      3,
      () =>
        send(
          "bad body",
          "/v1/verify",
          {
            method: "POST",
            headers: { ...bearer(pick(everything).secret), "content-type": "application/json" },
            body: "[",
          },
          { status: 400, result: 11 },
        ),
    ],
    [5, () => send("gateway", "/gw/soak/items", { headers: bearer(pick(everything).secret) }, { status: 200 })],
    [
      5,
      async () => {
        const made = await send(
          "create",
          tokensApi,
          adminInit("POST", {
            kind: "org",
            name: `soak ${crypto.randomUUID()}`,
            expiresAt: null,
            projects: "*",
            permissions: [PERMISSION],
          }),
          { status: 201 },
        );
        if (!made) return;
        await send("new token", verifyPath(org.projectKeys.alpha), { headers: bearer(made.secret) }, valid);
        await send(
          "edit",
          `${tokensApi}/${made.token.id}`,
          adminInit("PATCH", { name: `${made.token.name}, renamed` }),
          {
            status: 200,
          },
        );
        await send("revoke", `${tokensApi}/${made.token.id}/revoke`, adminInit("POST"), { status: 200 });
        await send(
          "just revoked",
          verifyPath(org.projectKeys.alpha),
          { headers: bearer(made.secret) },
          { status: 401, result: 6 },
        );
      },
    ],
  ];
  const total = traffic.reduce((n, [w]) => n + w, 0);
  const next = () => {
    let roll = random(total);
    for (const [weight, run] of traffic) {
      roll -= weight;
      if (roll < 0) return run();
    }
    return traffic[0]![1]();
  };

  let issued = 0;
  let midpoint: Promise<void> | null = null;
  const cronAndRevocation = async () => {
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: "*/15 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    for (let i = 0; i < 3; i++)
      await send("revocation: before", verifyPath(org.projectKeys.alpha), { headers: bearer(hot.secret) }, valid);
    await send("revocation: revoke", `${tokensApi}/${hot.id}/revoke`, adminInit("POST"), { status: 200 });
    await send(
      "revocation: next verify",
      verifyPath(org.projectKeys.alpha),
      { headers: bearer(hot.secret) },
      { status: 401, result: 6 },
    );
  };
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (issued < REQUESTS) {
        issued++;
        if (issued === REQUESTS / 2) midpoint = cronAndRevocation();
        await next();
      }
    }),
  );
  await midpoint;

  expect(unexpected).toEqual([]);
  expect(errorLog).not.toHaveBeenCalled();
  expect(counts["revocation: next verify"]).toBe(1);
  expect(Object.keys(counts).length).toBeGreaterThanOrEqual(traffic.length);
  expect(upstreamCalls).toHaveLength(counts.gateway!);
  expect(upstreamCalls).not.toContain("none");
});
