// `npm run bench -- --ab <rev>`: the hot path of this checkout against the same routes of an earlier
// commit, in one run. Both bench builds are served side by side (each by its own tree's harness, through
// bench/ab-serve.mjs), each seeded with its own tokens, and every round measures each route on one side
// and then the other, the order flipping every round, so both see the same machine within seconds. On a
// machine with 2 or more CPUs the two workerd processes share CPU 0 and wrk runs on CPU 1 (BENCH_AB_PIN=0
// turns that off). Writes bench/results/ab-<rev>.{json,md}.
// Settings: BENCH_AB_ROUNDS (12), BENCH_AB_SECONDS (per route, side and round: 2), BENCH_AB_TOKENS (2,000),
// BENCH_AB_ROUTES (all five), BENCH_THREADS (2), BENCH_CONNECTIONS (32).

import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { eachLimited } from "./harness.mjs";
import { availableCpus, ensureWrk, pinProcess, runWrk } from "./load.mjs";
import { benchRoutes } from "./plan.mjs";
import { loadAverage, machine, median, medianOverRounds, perRequestCpuRatio, rate } from "./report.mjs";

const ALL_ROUTES = ["constant", "memoryHit", "malformed", "kvBare", "kvHit"];
/** BENCH_AB_ROUTES="constant,memoryHit" measures fewer routes, for a quicker look at one path. */
const ROUTES = process.env.BENCH_AB_ROUTES ? process.env.BENCH_AB_ROUTES.split(",") : ALL_ROUTES;
/** Within one build: subject over baseline by req/s, as `npm run bench` reports them (bench/plan.mjs PAIRS). */
const WITHIN = {
  memoryHit: ["constant", "memoryHit"],
  malformed: ["constant", "malformed"],
  kvHit: ["kvBare", "kvHit"],
};
const KV_REFILL_AFTER_MS = 2 * 60_000;
const WARM_PARALLEL = 16;

const setting = (name, fallback) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const settings = {
  rounds: setting("BENCH_AB_ROUNDS", 12),
  seconds: setting("BENCH_AB_SECONDS", 2),
  tokens: setting("BENCH_AB_TOKENS", 2_000),
  threads: setting("BENCH_THREADS", 2),
  connections: setting("BENCH_CONNECTIONS", 32),
  pin: process.env.BENCH_AB_PIN !== "0" && availableCpus() >= 2,
};

const startedAt = Date.now();
const log = (message) => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}`);

function git(...args) {
  const result = spawnSync("git", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/**
 * A checkout of `sha` outside the repository, with its dependencies: this checkout's node_modules when
 * both lockfiles are the same, else its own `npm ci`. Kept between runs.
 */
function checkoutOf(sha) {
  const dir = join(tmpdir(), "tessera-bench-ab", sha);
  if (!existsSync(join(dir, "package.json"))) {
    mkdirSync(join(tmpdir(), "tessera-bench-ab"), { recursive: true });
    spawnSync("git", ["worktree", "prune"]);
    git("worktree", "add", "--detach", dir, sha);
  }
  if (!existsSync(join(dir, "node_modules"))) {
    const sameLock = readFileSync(join(dir, "package-lock.json"), "utf8") === readFileSync("package-lock.json", "utf8");
    if (sameLock) symlinkSync(resolve("node_modules"), join(dir, "node_modules"), "dir");
    else {
      log(`installing ${sha.slice(0, 7)}'s dependencies (its lockfile differs): npm ci`);
      const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: "inherit" });
      if (result.status !== 0) throw new Error(`npm ci in ${dir} failed`);
    }
  }
  copyFileSync("bench/ab-serve.mjs", join(dir, "bench/ab-serve.mjs"));
  return dir;
}

/** Starts bench/ab-serve.mjs in `dir` and waits for its AB_READY line. */
function serve(name, dir) {
  const child = spawn(process.execPath, ["bench/ab-serve.mjs"], {
    cwd: dir,
    env: { ...process.env, BENCH_AB_TOKENS: String(settings.tokens) },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const waiters = [];
  const ready = new Promise((resolveReady, reject) => {
    child.once("exit", (code) =>
      reject(new Error(`${name}: bench/ab-serve.mjs exited with ${code} before it was ready`)),
    );
    lines.on("line", (line) => {
      if (line.startsWith("AB_READY ")) resolveReady(JSON.parse(line.slice("AB_READY ".length)));
      else if (line === "AB_REFILLED") waiters.shift()?.();
    });
  });
  return ready.then((side) => ({
    ...side,
    name,
    url: new URL(side.url),
    routes: benchRoutes({ org: side.org, tokens: side.tokens, gateway: { path: "/__bench/constant" } }),
    refill: () =>
      new Promise((done) => {
        waiters.push(done);
        child.stdin.write("refill\n");
      }),
    stop: () => new Promise((done) => child.once("exit", done) && child.stdin.end()),
  }));
}

async function expectStatus(side, name) {
  const { requests, expect } = side.routes[name];
  const res = await fetch(new URL(requests[0].path, side.url), { headers: requests[0].headers });
  await res.arrayBuffer();
  if (res.status !== expect) throw new Error(`${side.name}: ${name} answered ${res.status}, expected ${expect}`);
}

/** Subject over baseline run by run, by req/s: median and range over the rounds (bench/report.mjs). */
const byRate = (subjectRuns, baselineRuns) => medianOverRounds(subjectRuns, baselineRuns, (s, b) => rate(s) / rate(b));
const show = (s) => `${s.ratio.toFixed(2)}x (${s.range[0].toFixed(2)}-${s.range[1].toFixed(2)})`;

async function main() {
  const rev = process.argv[process.argv.indexOf("--ab") + 1];
  if (!rev || rev.startsWith("-")) throw new Error("usage: npm run bench -- --ab <commit>");
  ensureWrk();
  const baseSha = git("rev-parse", "--verify", `${rev}^{commit}`);
  const headSha = git("rev-parse", "HEAD");
  const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
  const baseDir = checkoutOf(baseSha);
  log(`serving ${baseSha.slice(0, 7)} (base) from ${baseDir}`);
  const base = await serve("base", baseDir);
  log(`serving this checkout (${headSha.slice(0, 7)}${dirty ? " with uncommitted changes" : ""})`);
  const head = await serve("head", process.cwd());
  const sides = [base, head];
  try {
    for (const side of sides) {
      for (const name of ROUTES) await expectStatus(side, name);
      // Every token once, as `npm run bench` does: usage is written at most once per token in 5 minutes,
      // so the measured rounds see the steady state, not every token's first use.
      await eachLimited(side.routes.kvHit.requests, WARM_PARALLEL, async (r) => {
        const res = await fetch(new URL(r.path, side.url), { headers: r.headers });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${side.name}: a seeded token answered ${res.status}`);
      });
      if (settings.pin) pinProcess(side.workerdPid, "0");
      log(`${side.name}: ${side.url.href}, ${side.migrations} migrations, ${side.tokens.length} tokens`);
    }
    const wrkOptions = (side) => ({
      seconds: settings.seconds,
      threads: settings.threads,
      connections: settings.connections,
      workerdPid: side.workerdPid,
      cpus: settings.pin ? "1" : null,
    });
    for (const side of sides)
      for (const name of ROUTES) runWrk(side.url, side.routes[name].requests, { ...wrkOptions(side), seconds: 1 });

    const runs = { base: {}, head: {} };
    for (const side of sides) for (const name of ROUTES) runs[side.name][name] = [];
    const loadAtStart = machine();
    let lastFill = Date.now();
    for (let round = 0; round < settings.rounds; round++) {
      if (Date.now() - lastFill > KV_REFILL_AFTER_MS) {
        await Promise.all(sides.map((s) => s.refill()));
        lastFill = Date.now();
      }
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      const routeOrder = round % 2 === 0 ? ROUTES : [...ROUTES].reverse();
      for (const name of routeOrder) {
        for (const side of order) {
          const run = runWrk(side.url, side.routes[name].requests, wrkOptions(side));
          const unexpected = run.requests - (run.statuses[String(side.routes[name].expect)] ?? 0);
          if (unexpected > 0 || run.errors > 0)
            throw new Error(`${side.name} ${name}: ${unexpected} unexpected answers, ${run.errors} socket errors`);
          runs[side.name][name].push(run);
        }
        const [b, h] = [runs.base[name].at(-1), runs.head[name].at(-1)];
        log(
          `round ${round + 1}: ${name}: base ${Math.round(rate(b))} req/s ${Math.round(b.cpuUsPerRequest)} µs, head ${Math.round(rate(h))} req/s ${Math.round(h.cpuUsPerRequest)} µs`,
        );
      }
    }

    const perRoute = Object.fromEntries(
      ROUTES.map((name) => {
        const b = runs.base[name];
        const h = runs.head[name];
        return [
          name,
          {
            label: base.routes[name].label,
            baseRps: Math.round(median(b.map(rate))),
            headRps: Math.round(median(h.map(rate))),
            baseCpuUs: Math.round(median(b.map((r) => r.cpuUsPerRequest))),
            headCpuUs: Math.round(median(h.map((r) => r.cpuUsPerRequest))),
            // head over base: above 1 means this checkout is faster (by req/s) or cheaper (by CPU).
            rate: byRate(h, b),
            cpu: medianOverRounds(h, b, perRequestCpuRatio),
          },
        ];
      }),
    );
    const within = Object.fromEntries(
      Object.entries(WITHIN)
        .filter(([, pair]) => pair.every((name) => ROUTES.includes(name)))
        .map(([pair, [baseline, subject]]) => [
          pair,
          Object.fromEntries(
            sides.map((side) => {
              const s = runs[side.name];
              return [side.name, byRate(s[subject], s[baseline])];
            }),
          ),
        ]),
    );
    const result = {
      date: new Date().toISOString(),
      base: baseSha,
      head: headSha,
      headDirty: dirty,
      machine: loadAtStart,
      loadAverageAtEnd: loadAverage(),
      settings,
      perRoute,
      within,
    };
    const md = report(result);
    console.log(`\n${md}`);
    mkdirSync("bench/results", { recursive: true });
    const file = `bench/results/ab-${baseSha.slice(0, 7)}`;
    writeFileSync(`${file}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(`${file}.md`, md);
    log(`results written to ${file}.md and .json`);
  } finally {
    await Promise.all(sides.map((s) => s.stop()));
  }
}

function report(r) {
  const lines = [
    `A/B measured ${r.date}: this checkout (${r.head.slice(0, 7)}${r.headDirty ? " with uncommitted changes" : ""}) against ${r.base.slice(0, 7)}, both served at once on ${r.machine}; load average ${r.loadAverageAtEnd} at the end.`,
    `wrk ${r.settings.threads} threads, ${r.settings.connections} connections, ${r.settings.seconds} s per route and side in each of ${r.settings.rounds} rounds, ${r.settings.tokens} tokens a side${r.settings.pin ? "; both workerd processes on CPU 0, wrk on CPU 1" : ""}.`,
    "A ratio is the median over the rounds of head over base measured back to back (the order flips every round), by req/s and by workerd CPU per request (base µs over head µs); above 1 is faster or cheaper; (low-high) is the lowest and highest round.",
    "",
    "| route | base req/s | head req/s | base CPU µs | head CPU µs | head/base by req/s | head/base by CPU |",
    "|---|---:|---:|---:|---:|---|---|",
    ...Object.values(r.perRoute).map(
      (p) =>
        `| ${p.label} | ${p.baseRps} | ${p.headRps} | ${p.baseCpuUs} | ${p.headCpuUs} | ${show(p.rate)} | ${show(p.cpu)} |`,
    ),
    "",
    "The issue 12 ratios within each build, from the same rounds:",
    "",
    "| ratio | base | head |",
    "|---|---|---|",
    ...Object.entries(r.within).map(
      ([pair, sides]) => `| ${WITHIN[pair][1]} / ${WITHIN[pair][0]} | ${show(sides.base)} | ${show(sides.head)} |`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

await main();
