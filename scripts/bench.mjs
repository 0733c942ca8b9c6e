// `npm run bench`: bundles the bench build, serves it with Miniflare on 127.0.0.1, seeds tokens, and
// measures each verify route against its baseline in the same run with wrk. Prints the table and
// writes bench/results/latest.{json,md}. `--quick` (or BENCH_QUICK=1) is a fast check that writes
// bench/results/quick.*.tmp instead. `--soak` runs the mixed-traffic soak (bench/soak.mjs) instead of
// the measurements, for SOAK_SECONDS (60; 10 with --quick). `--ab <commit>` compares the hot path with
// that commit's in one run (bench/ab.mjs). Settings: BENCH_SECONDS (per route, split over the rounds),
// BENCH_ROUNDS, BENCH_THREADS, BENCH_CONNECTIONS, BENCH_TOKENS, BENCH_PIN=0 (no CPU pinning); for the light-load phase BENCH_LIGHT_SECONDS
// (per route, split over the same rounds) and BENCH_LIGHT_PAUSE_MS.

import { setupGateway } from "../bench/gateway.mjs";
import {
  applyMigrations,
  buildBenchWorker,
  eachLimited,
  fillKv,
  post,
  seed,
  seedApiKeys,
  startWorker,
} from "../bench/harness.mjs";
import { availableCpus, ensureWrk, findWorkerd, pinProcess, runWrk } from "../bench/load.mjs";
import { benchRoutes, GROUPS, LATENCY_PAIRS } from "../bench/plan.mjs";
import {
  latencyRatios,
  loadAverage,
  machine,
  printScale,
  printTable,
  ratios,
  summarize,
  writeResults,
  writeScale,
} from "../bench/report.mjs";
import { runSoak } from "../bench/soak.mjs";
import { bin } from "./run.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick") || process.env.BENCH_QUICK === "1";
const soakMode = args.includes("--soak");
// `--scale`: only the counts at an organization's scale (bench/scale.ts), no timings; quick, and exact on a busy machine.
const scaleOnly = args.includes("--scale");
const setting = (name, fallback) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const settings = {
  secondsPerRoute: setting("BENCH_SECONDS", quick ? 2 : 14),
  rounds: setting("BENCH_ROUNDS", quick ? 1 : 7),
  threads: setting("BENCH_THREADS", 2),
  connections: setting("BENCH_CONNECTIONS", 32),
  tokens: setting("BENCH_TOKENS", quick ? 1_000 : 10_000),
  lightSecondsPerRoute: setting("BENCH_LIGHT_SECONDS", quick ? 4 : 21),
  // Long enough for a miss's background fill (three store calls) to finish on a busy 2-core machine.
  lightPauseMs: setting("BENCH_LIGHT_PAUSE_MS", 100),
  // workerd on CPU 0 and wrk on CPU 1, so they never trade cores between rounds (bench/README.md).
  pin: process.env.BENCH_PIN !== "0" && availableCpus() >= 2,
};
/** wrk's CPUs once workerd is pinned to CPU 0; null leaves both to the scheduler. */
const wrkCpus = () => (settings.pin ? "1" : null);
// KV entries live 5 minutes (KV_TOKEN_TTL_S); refill well before, so the KV pair never reads expired ones.
const KV_REFILL_AFTER_MS = 2 * 60_000;
const WARM_PARALLEL = 16;

const startedAt = Date.now();
const log = (message) => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s] ${message}`);

async function expectVerify(url, request, status, result) {
  const res = await fetch(new URL(request.path, url), { headers: request.headers });
  const body = await res.json();
  if (res.status !== status || body.result !== result) {
    throw new Error(
      `sanity check: ${request.path} answered ${res.status} ${JSON.stringify(body)}, expected ${status} result ${result}`,
    );
  }
}

async function measure(url, routes, lastFill) {
  const runs = Object.fromEntries(Object.keys(routes).map((k) => [k, []]));
  const seconds = Math.max(1, Math.round(settings.secondsPerRoute / settings.rounds));
  const workerdPid = findWorkerd();
  if (workerdPid === null) {
    log("workerd's process was not found: CPU per request is not measured, nothing is pinned");
    settings.pin = false;
  }
  if (settings.pin) pinProcess(workerdPid, "0");
  const wrkOptions = {
    seconds,
    threads: settings.threads,
    connections: settings.connections,
    workerdPid,
    cpus: wrkCpus(),
  };
  // Unmeasured warm-up: JIT and connections, so the first measured route is not penalised.
  runWrk(url, routes.constant.requests, { ...wrkOptions, seconds: 1 });
  runWrk(url, routes.memoryHit.requests, { ...wrkOptions, seconds: 1 });
  for (let round = 0; round < settings.rounds; round++) {
    for (const group of GROUPS) {
      if (group.includes("kvHit") && Date.now() - lastFill.at > KV_REFILL_AFTER_MS) {
        log("refilling KV entries before the KV pair (their TTL is 5 minutes)");
        await lastFill.refill();
      }
      const order = round % 2 === 0 ? group : [...group].reverse();
      for (const name of order) {
        if (!routes[name]) continue;
        const run = runWrk(url, routes[name].requests, wrkOptions);
        runs[name].push(run);
        const cpu = run.cpuUsPerRequest === null ? "" : `, ${Math.round(run.cpuUsPerRequest)} µs CPU each`;
        log(
          `round ${round + 1}: ${routes[name].label}: ${Math.round(run.requests / run.seconds)} req/s${cpu}, p99 ${run.p99ms} ms`,
        );
      }
    }
  }
  const measured = Object.entries(routes).filter(([k]) => runs[k].length > 0);
  return { runs, summaries: Object.fromEntries(measured.map(([k, r]) => [k, summarize(r, runs[k])])) };
}

/**
 * The light-load phase: each latency pair back to back with one connection, in sequence, a pause
 * after each answer (LATENCY_PAIRS in bench/plan.mjs); the order flips every round.
 */
async function measureLatency(url, routes) {
  const names = [...new Set(Object.values(LATENCY_PAIRS).flatMap((pair) => pair.slice(0, 2)))];
  const runs = Object.fromEntries(names.map((k) => [k, []]));
  const seconds = Math.max(1, Math.round(settings.lightSecondsPerRoute / settings.rounds));
  const options = { seconds, threads: 1, connections: 1, pauseMs: settings.lightPauseMs, cpus: wrkCpus() };
  runWrk(url, routes.miss.requests, { ...options, seconds: 1 });
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const run = runWrk(url, routes[name].requests, options);
      runs[name].push(run);
      log(
        `light round ${round + 1}: ${routes[name].label}: p50 ${run.p50ms} ms, p90 ${run.p90ms} ms, ${run.requests} answers`,
      );
    }
  }
  return {
    runs,
    latency: latencyRatios(runs),
    lightRoutes: Object.fromEntries(names.map((k) => [k, summarize(routes[k], runs[k])])),
  };
}

/** The counts at 10,000 projects and 1,000 tokens for all projects; after the timings, which it would disturb. */
async function measureScale(url) {
  log("at scale: seeding 10,000 projects and 1,000 tokens for all projects, then counting");
  // After minutes of wrk, the pooled keep-alive connection may be closed: the route is safe to send again.
  const scale = await post(url, "/__bench/scale", {}, { retry: true });
  await post(url, "/__bench/reset", {}, { retry: true });
  return scale;
}

async function main() {
  ensureWrk();
  log("bundling the bench build (bench/wrangler.toml)");
  const scriptPath = buildBenchWorker(bin("wrangler"));
  const { mf, url, errors } = await startWorker(scriptPath);
  try {
    log(`serving on ${url.href}; applied ${await applyMigrations(mf)} migrations`);
    if (scaleOnly) {
      const scale = await measureScale(url);
      printScale(scale);
      writeScale(scale);
      return;
    }
    // The soak needs variety, not volume: fewer tokens make its setup quick.
    const { org, tokens } = await seed(url, soakMode ? Math.min(settings.tokens, 2_000) : settings.tokens);
    log(`seeded ${tokens.length} tokens`);
    const refill = async () => {
      await fillKv(url, tokens);
      lastFill.at = Date.now();
    };
    const lastFill = { at: 0, refill };
    await refill();
    log("KV entries written for every token");

    const gateway = await setupGateway(url, org, tokens[0].secret);
    if (soakMode) {
      const passed = await runSoak({
        mf,
        url,
        org,
        tokens,
        errors,
        seconds: setting("SOAK_SECONDS", quick ? 10 : 60),
        quick,
        log,
      });
      process.exitCode = passed ? 0 : 1;
      return;
    }
    const routes = benchRoutes({ org, tokens, gateway });
    await expectVerify(url, routes.memoryHit.requests[0], 200, 0);
    await expectVerify(url, routes.malformed.requests[0], 401, 2);
    await seedApiKeys(url, org, tokens);
    log("API-key middleware records written for every token");
    // Every token once, from KV: checks the seed, and records each token's use as a steady state has
    // (usage is written at most once per token in 5 minutes, so the measured runs write none).
    await eachLimited(routes.kvHit.requests, WARM_PARALLEL, (r) => expectVerify(url, r, 200, 0));
    log("every seeded token verified once");

    const loadAtStart = machine();
    const { runs, summaries } = await measure(url, routes, lastFill);
    const light = await measureLatency(url, routes);
    const scale = await measureScale(url);
    const result = {
      date: new Date().toISOString(),
      machine: loadAtStart,
      loadAverageAtEnd: loadAverage(),
      settings,
      routes: summaries,
      pairs: ratios(runs),
      latency: light.latency,
      lightRoutes: light.lightRoutes,
      workerErrors: { count: errors.length, first: errors.slice(0, 5) },
      scale,
    };
    printTable(result);
    log(`results written to ${writeResults(result, { quick })}`);
    if (errors.length > 0) console.log(`the worker logged ${errors.length} errors, first: ${errors[0]}`);
    const broken = [...Object.values(summaries), ...Object.values(light.lightRoutes)].filter(
      (s) => s.unexpected > 0 || s.errors > 0,
    );
    if (broken.length > 0 || errors.length > 0) process.exitCode = 1;
  } finally {
    await mf.dispose();
  }
}

// `--ab <commit>`: this checkout's hot path against that commit's, both served at once (bench/ab.mjs).
if (args.includes("--ab")) await import("../bench/ab.mjs");
else await main();
