// The bench's worker: bundled from bench/wrangler.toml, served by Miniflare's API on loopback with
// in-memory D1 and KV, migrated and seeded through the bench build's own routes.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from "wrangler";

export const BENCH_CONFIG = "bench/wrangler.toml";
const BUILD_DIR = resolve(".wrangler/bench-build");
// Local only; long enough for the worker's own pepper check.
const BENCH_PEPPER = "bench-only-pepper-0123456789-0123456789-0123456789";
const SEED_CHUNK = 1_000;
const FILL_CHUNK = 500;

// The deployed worker's configuration: the bench serves its bundle with exactly these bindings.
const WORKER_CONFIG = "wrangler.toml";
/**
 * The bench's own unknown-token traffic comes from one address; production's 120 a minute would turn
 * it into code 9 within two seconds, so the bench's limiter allows far more.
 */
const BENCH_UNKNOWN_TOKEN_LIMIT = 1_000_000;

// Binding kinds the bench passes on. Any other kind in wrangler.toml stops the bench rather than being
// left out silently (the console's static assets are left out on purpose: the bench measures the worker).
const SERVED = new Set([
  "bindings",
  "kvNamespaces",
  "d1Databases",
  "ratelimits",
  "queueProducers",
  "analyticsEngineDatasets",
]);
const OTHER_BINDINGS = [
  "serviceBindings",
  "durableObjects",
  "r2Buckets",
  "queueProducers",
  "workflows",
  "analyticsEngineDatasets",
  "hyperdrives",
  "vectorize",
  "secretsStoreSecrets",
  "dispatchNamespaces",
  "workerLoaders",
];

function assertServable(options) {
  const unserved = OTHER_BINDINGS.filter((k) => !SERVED.has(k) && Object.keys(options[k] ?? {}).length > 0);
  if (unserved.length > 0)
    throw new Error(
      `${WORKER_CONFIG} has bindings the bench does not serve yet (${unserved.join(", ")}): add them in bench/harness.mjs`,
    );
}

function benchRateLimits(ratelimits = {}) {
  const out = { ...ratelimits };
  if (out.UNKNOWN_TOKEN_LIMITER)
    out.UNKNOWN_TOKEN_LIMITER = {
      ...out.UNKNOWN_TOKEN_LIMITER,
      simple: { limit: BENCH_UNKNOWN_TOKEN_LIMIT, period: 60 },
    };
  return out;
}

/** `wrangler deploy --dry-run` of the bench entry; returns the bundle's path. */
export function buildBenchWorker(wranglerBin) {
  const result = spawnSync(wranglerBin, ["deploy", "--dry-run", "--outdir", BUILD_DIR, "-c", BENCH_CONFIG], {
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  if (result.status !== 0) throw new Error(`bench build failed:\n${result.stdout}\n${result.stderr}`);
  const size = /Total Upload: .*/.exec(result.stdout)?.[0];
  if (size) console.log(`bench build: ${size}`);
  return join(BUILD_DIR, "worker.js");
}

/**
 * Miniflare on 127.0.0.1 (a free port), counting the worker's error logs so a run can report them.
 * `inspectorPort` opens workerd's V8 inspector for bench/profile.mjs.
 */
export async function startWorker(scriptPath, { inspectorPort } = {}) {
  const w = unstable_getMiniflareWorkerOptions(WORKER_CONFIG).workerOptions;
  assertServable(w);
  const errors = [];
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      ...(inspectorPort ? { inspectorPort } : {}),
      cf: false,
      handleStructuredLogs: ({ level, message }) => {
        if (level === "error") errors.push(message);
        else if (level === "warn") console.warn(`worker: ${message}`);
      },
      name: "tessera-bench",
      modules: true,
      scriptPath,
      compatibilityDate: w.compatibilityDate,
      compatibilityFlags: w.compatibilityFlags,
      kvNamespaces: w.kvNamespaces,
      d1Databases: w.d1Databases,
      ratelimits: benchRateLimits(w.ratelimits),
      // The cache fan-out queue and its consumer (the bench worker's `queue()` is the real one).
      queueProducers: w.queueProducers,
      queueConsumers: w.queueConsumers,
      // Served as in production, so every verification pays for its data point (Miniflare drops the writes).
      analyticsEngineDatasets: w.analyticsEngineDatasets,
      bindings: { ...w.bindings, TOKEN_PEPPER: BENCH_PEPPER },
    }),
  );
  const url = await mf.ready;
  return { mf, url, errors };
}

/** Every migration in order, statement by statement, through the D1 binding. */
export async function applyMigrations(mf) {
  const db = await mf.getD1Database("DB");
  const files = readdirSync("migrations")
    .filter((f) => f.endsWith(".sql"))
    .sort();
  for (const file of files) {
    const statements = unstable_splitSqlQuery(readFileSync(join("migrations", file), "utf8"))
      .map((s) => s.replace(/-->\s*statement-breakpoint/g, "").trim())
      .filter((s) => s !== "");
    if (statements.length > 0) await db.batch(statements.map((s) => db.prepare(s)));
  }
  return files.length;
}

/**
 * POST to a bench route. `retry` is for idempotent routes called after a long quiet spell, when the
 * pooled keep-alive connection may have been closed by workerd in between (EPIPE, ECONNRESET).
 */
export async function post(url, path, body, { retry = false } = {}) {
  const send = () =>
    fetch(new URL(path, url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
  let res;
  try {
    res = await send();
  } catch (err) {
    if (!retry) throw err;
    res = await send();
  }
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** One organization and `count` tokens through the bench routes (the worker's own generator and HMAC). */
export async function seed(url, count) {
  const org = await post(url, "/__bench/org");
  const tokens = [];
  for (let done = 0; done < count; done += SEED_CHUNK) {
    tokens.push(...(await post(url, "/__bench/seed", { org, count: Math.min(SEED_CHUNK, count - done) })));
  }
  return { org, tokens };
}

/** KV entries for every token, written by the worker's own lookup and cache writer. */
export async function fillKv(url, tokens) {
  for (let i = 0; i < tokens.length; i += FILL_CHUNK) {
    await post(
      url,
      "/__bench/fill-kv",
      { hashes: tokens.slice(i, i + FILL_CHUNK).map((t) => t.hash) },
      { retry: true },
    );
  }
}

/** The common API-key middleware's records (bench/api-key-baseline.ts) for every seeded token. */
export async function seedApiKeys(url, org, tokens) {
  for (let i = 0; i < tokens.length; i += FILL_CHUNK) {
    const keys = tokens.slice(i, i + FILL_CHUNK).map((t) => ({ id: t.id, secret: t.secret }));
    await post(url, "/__bench/api-keys", { org, keys });
  }
}

/** Runs `fn` over items with at most `parallel` in flight. */
export async function eachLimited(items, parallel, fn) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(parallel, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
}
