import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import observabilityDoc from "../docs/OBSERVABILITY.md?raw";
import { LOG_EVENTS } from "../worker/observability/log";
import { hashToken } from "../worker/tokens/hash";
import { api, confirm, OWNER, setupOwner } from "./support/api-client";
import { runCronAt } from "./support/cron";
import { envWithFailing } from "./support/failing";
import { resetIsolateCaches } from "./support/isolate";
import { dropFromKv } from "./support/kv-entries";
import { bearer, viaHandler } from "./support/verify-client";

// Issue 13, item 4: every line the worker logs is one JSON object (Workers Logs indexes its fields)
// naming its event, with the request's id (`cf-ray` when Cloudflare sent one), and never a secret.

type Line = Record<string, unknown> & { event: string };

const METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;
/** The arguments of every console call of this file, in order. */
const captured: unknown[][] = [];
/** Values that took part in the run and must appear in no line: secrets, hashes, the password, bound values. */
const forbidden: string[] = [OWNER.password];
let cookie: string;

beforeAll(async () => {
  for (const method of METHODS) vi.spyOn(console, method).mockImplementation((...args) => void captured.push(args));
  cookie = (await setupOwner({ slug: "logs", name: "Logs" })).cookie;
  await confirm(cookie, OWNER.password);
  forbidden.push(cookie);
});
afterAll(() => vi.restoreAllMocks());

/** Every console call since `from`, each checked to be exactly one JSON object with a known event. */
function linesSince(from: number): Line[] {
  return captured.slice(from).map((args) => {
    expect(args).toHaveLength(1);
    const [line] = args as [Line];
    expect(Object.getPrototypeOf(line)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(line))).toEqual(line);
    expect(LOG_EVENTS).toContain(line.event);
    return line;
  });
}

/** Where the next console call will be in `captured`. */
const mark = () => captured.length;

async function createToken(name: string, headers: Record<string, string> = {}) {
  const res = await api("POST", "/api/orgs/logs/tokens", {
    cookie,
    headers,
    body: { kind: "org", name, expiresAt: null, projects: "*", permissions: ["project:browse"] },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const secret: string = res.body.secret;
  forbidden.push(secret, await hashToken(env.TOKEN_PEPPER, secret), name);
  return { id: res.body.token.id as string, secret };
}

describe("log lines", () => {
  it("a management change: one audit.recorded line with the request's cf-ray, its ids, and no secret", async () => {
    const from = mark();
    const made = await createToken(`canary-${crypto.randomUUID()}`, { "cf-ray": "8f13c0ffee000001-AMS" });
    const audited = linesSince(from).filter((l) => l.event === "audit.recorded");
    expect(audited).toEqual([
      {
        event: "audit.recorded",
        requestId: "8f13c0ffee000001-AMS",
        action: "token.created",
        orgId: expect.any(String),
        actorType: "user",
        actorId: expect.any(String),
        targetType: "token",
        targetId: made.id,
      },
    ]);
  });

  it("a failed verification: verify.failed by code, with the request id echoed from cf-ray", async () => {
    const made = await createToken(`revoked-${crypto.randomUUID()}`);
    expect((await api("POST", `/api/orgs/logs/tokens/${made.id}/revoke`, { cookie })).status).toBe(200);
    const from = mark();
    const req = bearer(made.secret);
    req.headers.set("cf-ray", "8f13c0ffee000002-FRA");
    expect((await viaHandler(req)).status).toBe(401);
    const failed = linesSince(from).filter((l) => l.event === "verify.failed");
    expect(failed).toEqual([
      {
        event: "verify.failed",
        requestId: "8f13c0ffee000002-FRA",
        code: "token_revoked",
        tier: expect.stringMatching(/^(memory|kv|d1)$/),
        tokenId: made.id,
        orgId: expect.any(String),
        kind: "org",
        us: expect.any(Number),
      },
    ]);
  });

  it("a refusal made before any lookup (missing, malformed token) is not logged: anyone can send those for free", async () => {
    const from = mark();
    expect((await viaHandler(bearer("tso_not-a-token"))).status).toBe(401);
    expect((await viaHandler("https://tessera.test/v1/verify")).status).toBe(401);
    expect(linesSince(from)).toEqual([]);
  });

  it("a store failing: store.error with the error's kind and a made-up request id, new per request", async () => {
    const made = await createToken(`cold-${crypto.randomUUID()}`);
    const ids: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      resetIsolateCaches();
      await dropFromKv(made.secret);
      const from = mark();
      expect((await viaHandler(bearer(made.secret), envWithFailing("TOKEN_CACHE").env)).status).toBe(200);
      const read = linesSince(from).find((l) => l.event === "store.error" && l.op === "token.read");
      expect(read).toMatchObject({ store: "kv", error: expect.any(String), fallback: "d1" });
      ids.push(read?.requestId);
    }
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("a refusal over the RPC entrypoint: verify.failed with an id made up for the call", async () => {
    const made = await createToken(`rpc-${crypto.randomUUID()}`);
    expect((await api("POST", `/api/orgs/logs/tokens/${made.id}/revoke`, { cookie })).status).toBe(200);
    const ids: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const from = mark();
      expect(await exports.TesseraRpc.verify(made.secret)).toMatchObject({ result: 6, status: 401 });
      const failed = linesSince(from).find((l) => l.event === "verify.failed");
      expect(failed).toMatchObject({ code: "token_revoked", tokenId: made.id });
      ids.push(failed?.requestId);
    }
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("a cron run: one cron.job line per job with its duration and counts, and one cron.run line", async () => {
    const from = mark();
    await runCronAt(Date.now());
    vi.useRealTimers();
    const lines = linesSince(from);
    const jobs = lines.filter((l) => l.event === "cron.job");
    expect(jobs.map((j) => j.job).sort()).toEqual(["expiry", "grace", "notices", "purge", "retention", "webhooks"]);
    for (const job of jobs) {
      expect(job).toMatchObject({ trigger: "cron", durationMs: expect.any(Number), done: true, errors: 0 });
      expect(job.counts).toEqual(expect.any(Object));
      expect(job).not.toHaveProperty("requestId");
    }
    const runs = lines.filter((l) => l.event === "cron.run");
    expect(runs).toEqual([
      {
        event: "cron.run",
        runId: jobs[0]!.runId,
        trigger: "cron",
        durationMs: expect.any(Number),
        jobs: 6,
        skipped: 0,
        unfinished: 0,
        failed: 0,
      },
    ]);
  });

  it("none of the lines above holds a secret, a token hash, the password, a session or a bound value", () => {
    const printed = JSON.stringify(linesSince(0));
    expect(printed).toContain("audit.recorded");
    expect(forbidden.filter((value) => printed.includes(value))).toEqual([]);
  });
});

it("docs/OBSERVABILITY.md describes every event a line can name", () => {
  const documented = [...observabilityDoc.matchAll(/^\| `([a-z_.]+)` /gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual([...LOG_EVENTS].sort());
});
