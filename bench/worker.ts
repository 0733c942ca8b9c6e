import { Hono } from "hono";
import { replicaRead } from "../worker/db/session";
import type { AppEnv } from "../worker/env";
import { clientIp } from "../worker/http/client-ip";
import tessera from "../worker/index";
import { KV_TOKEN_KEY_PREFIX } from "../worker/limits";
import { lookupTokenByHash } from "../worker/tokens/lookup";
import { memoryCache } from "../worker/tokens/memory-cache";
import { forgetUsageWrites } from "../worker/tokens/usage";
import { VERIFY_HEADERS } from "../worker/verify/envelope";
import { clearBlockedClients } from "../worker/verify/throttle";
import { type ApiKeyVariables, apiKeyAuth, seedApiKeys } from "./api-key-baseline";
import { readBaselineD1, readBaselineKv, readMissFloor, readMissReads } from "./baselines";
import { measureAtScale } from "./scale";
import {
  BENCH_PERMISSIONS,
  type BenchOrg,
  fillKvEntries,
  registerBenchUpstream,
  seedAdminToken,
  seedBenchOrg,
  seedTokens,
} from "./seed";

export { TesseraRpc } from "../worker/index";

// The bench build (bench/wrangler.toml): the real worker, plus baseline routes that do one piece of
// the hot path's work alone, so each verify route is measured against its floor in the same run.
// None of this is in the deployed worker, whose entry is worker/index.ts.

/** Same headers and about the same size as a verify answer, with no work behind it. */
const CONSTANT_BODY = JSON.stringify({
  result: 0,
  valid: true,
  token: { id: "00000000-0000-0000-0000-000000000000", kind: "org" },
});

/**
 * `X-Bench-Cold` on a request empties the isolate's token memory tier first (`memory`), and with `kv` also
 * makes every token-cache read miss: reads go to a key nothing writes, so KV does a real lookup that
 * finds nothing, and fills still write. Only token entries miss: a project fact is read from its own KV
 * entry, as in production, where an organization's facts are few and stay in KV. The header costs the same on the baseline routes. Project facts
 * keep their own memory tier: small and read by every token of the organization, they are hot in a real
 * isolate, so "memory cold" stays one KV read of the token entry, not two reads.
 */
const COLD_HEADER = "x-bench-cold";
const MISS_PREFIX = "bench-miss:";

function alwaysMissing(kv: KVNamespace): KVNamespace {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "get")
        return (key: string, options?: unknown) =>
          target.get(key.startsWith(KV_TOKEN_KEY_PREFIX) ? MISS_PREFIX + key : key, options as "json");
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const readJson = async <T>(req: Request): Promise<T> => (await req.json()) as T;

/** The common Hono API-key middleware (bench/api-key-baseline.ts) in front of a permission check. */
const apiKeyBaseline = new Hono<{ Bindings: Env; Variables: ApiKeyVariables }>().use(apiKeyAuth).get("/verify", (c) => {
  const permission = c.req.query("permission");
  const key = c.get("apiKey");
  if (permission && !key.permissions.includes(permission)) return c.json({ valid: false }, 403);
  return c.json({ valid: true, id: key.id, org: key.orgId });
});

const bench = new Hono<AppEnv>()
  .use(clientIp)
  .get("/__bench/constant", () => new Response(CONSTANT_BODY, { headers: VERIFY_HEADERS }))
  .get("/__bench/kv", async (c) => Response.json(await readBaselineKv(c.env.TOKEN_CACHE, c.req.query("hash") ?? "")))
  .get("/__bench/d1", async (c) => Response.json(await readBaselineD1(c.env.DB, c.req.query("id") ?? "")))
  // Sent with `X-Bench-Cold: kv`, so its KV read misses as the verify miss's does.
  .get("/__bench/miss-floor", async (c) => {
    const { hash = "", id = "" } = c.req.query();
    return Response.json(
      await readMissFloor(c.env.TOKEN_CACHE, c.env.DB, hash, id, (p) => c.executionCtx.waitUntil(p)),
    );
  })
  // Sent with `X-Bench-Cold: kv`: the miss's KV get (a miss) and its D1 lookup, answered at once.
  .get("/__bench/miss-reads", async (c) =>
    Response.json(await readMissReads(c.env.TOKEN_CACHE, c.env.DB, c.req.query("hash") ?? "")),
  )
  .route("/__bench/api-key", apiKeyBaseline)
  // Not a baseline: the miss path's own D1 query alone, to tell its cost from the KV traffic around it.
  .get("/__bench/lookup", async (c) =>
    Response.json(await lookupTokenByHash(replicaRead(c.env.DB), c.req.query("hash") ?? "")),
  )
  // The gateway's upstream in the bench, and the target of the "direct call" baseline.
  .all("/__bench/upstream/*", (c) =>
    Response.json({ ok: true, path: c.req.path, tokenId: c.req.header("x-tessera-token-id") ?? null }),
  )
  .post("/__bench/org", async (c) => Response.json(await seedBenchOrg(c.env.DB, Date.now())))
  .post("/__bench/seed", async (c) => {
    const { org, count } = await readJson<{ org: BenchOrg; count: number }>(c.req.raw);
    return Response.json(await seedTokens(c.env, org, count, Date.now()));
  })
  .post("/__bench/admin-token", async (c) => {
    const { org } = await readJson<{ org: BenchOrg }>(c.req.raw);
    const { token, secret } = await seedAdminToken(c.env, org, Date.now());
    return Response.json({ id: token.id, secret });
  })
  .post("/__bench/gateway", async (c) => {
    const { org, origin } = await readJson<{ org: BenchOrg; origin: string }>(c.req.raw);
    return Response.json(await registerBenchUpstream(c.env, org, origin, Date.now()));
  })
  .post("/__bench/api-keys", async (c) => {
    const { org, keys } = await readJson<{ org: BenchOrg; keys: { id: string; secret: string }[] }>(c.req.raw);
    await seedApiKeys(c.env.TOKEN_CACHE, org.orgId, keys, BENCH_PERMISSIONS);
    return Response.json({ seeded: keys.length });
  })
  .post("/__bench/fill-kv", async (c) => {
    const { hashes } = await readJson<{ hashes: string[] }>(c.req.raw);
    await fillKvEntries(c.env, hashes, Date.now());
    return Response.json({ filled: hashes.length });
  })
  // Counts at 10,000 projects and 1,000 tokens for all projects (bench/scale.ts); run after the timings.
  .post("/__bench/scale", async (c) => Response.json(await measureAtScale(c.env, c.executionCtx)))
  .post("/__bench/reset", () => {
    memoryCache.clear();
    forgetUsageWrites();
    clearBlockedClients();
    return Response.json({ reset: true });
  });

// Bench setup failures are the operator's to read: the message goes back whole (never in the real app).
bench.onError((err) => new Response(`${err.name}: ${err.message}`, { status: 500 }));

export default {
  fetch(request, env, ctx) {
    const cold = request.headers.get(COLD_HEADER);
    if (cold !== null) {
      memoryCache.clear();
      if (cold === "kv") env = { ...env, TOKEN_CACHE: alwaysMissing(env.TOKEN_CACHE) };
    }
    if (new URL(request.url).pathname.startsWith("/__bench/")) return bench.fetch(request, env, ctx);
    return tessera.fetch(request, env, ctx);
  },
  scheduled: tessera.scheduled,
  queue: tessera.queue,
} satisfies ExportedHandler<Env>;
