// Turns the rounds' wrk results into the table, bench/results/latest.json and latest.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { PAIRS } from "./plan.mjs";

const round1 = (n) => Math.round(n * 10) / 10;
const round2 = (n) => Math.round(n * 100) / 100;

export function machine() {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}, Node ${process.version}, load average ${loadavg().map(round2).join("/")} at start`;
}

/**
 * A route over all its rounds: rps is all requests over all time; p50 and p99 are the mean of the
 * rounds' (wrk cannot merge histograms); `unexpected` counts answers whose status was not the route's.
 */
export function summarize(route, runs) {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const statuses = {};
  for (const r of runs) for (const [s, n] of Object.entries(r.statuses)) statuses[s] = (statuses[s] ?? 0) + n;
  const expected = statuses[String(route.expect)] ?? 0;
  const cpu = runs.filter((r) => r.cpuUsPerRequest !== null);
  return {
    label: route.label,
    requests,
    rps: round1(requests / seconds),
    // Weighted by each round's requests: workerd's CPU time over all rounds per answered request.
    cpuUsPerRequest: cpu.length ? round1(cpu.reduce((n, r) => n + r.cpuUsPerRequest * r.requests, 0) / cpu.reduce((n, r) => n + r.requests, 0)) : null,
    p50ms: round2(runs.reduce((n, r) => n + r.p50ms, 0) / runs.length),
    p99ms: round2(runs.reduce((n, r) => n + r.p99ms, 0) / runs.length),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    unexpected: Object.values(statuses).reduce((n, c) => n + c, 0) - expected,
    statuses,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const rate = (run) => run.requests / run.seconds;

const perRequestCpuRatio = (subject, baseline) =>
  subject.cpuUsPerRequest && baseline.cpuUsPerRequest ? baseline.cpuUsPerRequest / subject.cpuUsPerRequest : null;

/** The median over the rounds of `ratio(subject run, baseline run)` for the rounds that have both. */
function medianOverRounds(subjectRuns, baselineRuns, ratio) {
  const perRound = subjectRuns.map((run, i) => (baselineRuns[i] ? ratio(run, baselineRuns[i]) : null)).filter((r) => r !== null);
  return { ratio: perRound.length ? round2(median(perRound)) : null, perRound: perRound.map(round2) };
}

/**
 * Each ratio is the median over the rounds of subject rps / baseline rps, the two measured back to
 * back in that round: load that comes and goes on the machine moves both sides of a round together.
 * `cpuRatio` is the same over workerd's CPU time per request (baseline over subject, so both read
 * "higher is better"): workerd serves on one thread, so the two estimate the same cost, and the CPU
 * figure leaves out the time the machine gave to other work.
 */
export function ratios(runs) {
  const out = {};
  for (const [name, [base, subject, target]] of Object.entries(PAIRS)) {
    const b = runs[base] ?? [];
    const s = runs[subject] ?? [];
    const byRate = medianOverRounds(s, b, (run, baseRun) => rate(run) / rate(baseRun));
    const byCpu = medianOverRounds(s, b, perRequestCpuRatio);
    out[name] = { baseline: base, subject, target, ...byRate, cpuRatio: byCpu.ratio, cpuPerRound: byCpu.perRound };
  }
  return out;
}

function verdict({ ratio, target }) {
  if (ratio === null) return "not measured";
  if (target === null) return "(no target)";
  return ratio >= target ? `meets >= ${target}` : `BELOW the ${target} target`;
}

/**
 * "0.92x constant route (CPU 0.95x), meets >= 0.8" for a subject route, one clause per pair it is
 * the subject of; "baseline" for the others.
 */
function ratioText(result, name) {
  const pairs = Object.values(result.pairs).filter((p) => p.subject === name);
  if (pairs.length === 0) return "baseline";
  return pairs
    .map((pair) => {
      const cpu = pair.cpuRatio === null ? "" : ` (CPU ${pair.cpuRatio}x)`;
      return `${pair.ratio ?? "-"}x ${result.routes[pair.baseline]?.label ?? pair.baseline}${cpu}, ${verdict(pair)}`;
    })
    .join("; ");
}

export function markdown(result) {
  const rows = Object.entries(result.routes).map(
    ([name, r]) => `| ${r.label} | ${r.rps} | ${r.p50ms} | ${r.p99ms} | ${r.cpuUsPerRequest ?? "-"} | ${ratioText(result, name)} |`,
  );
  return [
    `Measured ${result.date} on ${result.machine}.`,
    `wrk ${result.settings.threads} threads, ${result.settings.connections} connections, ${result.settings.secondsPerRoute} s per route in ${result.settings.rounds} rounds, ${result.settings.tokens} seeded tokens.`,
    "req/s is over all rounds; p50 and p99 are the rounds' mean; CPU µs is workerd's CPU time per answered request (local D1 and KV included);",
    "a ratio is the median over the rounds of the two routes measured back to back, by req/s and (in brackets) by CPU time per request.",
    "",
    "| route | req/s | p50 ms | p99 ms | CPU µs | ratio to its baseline (same run) |",
    "|---|---:|---:|---:|---:|---|",
    ...rows,
    "",
    "How: the bench build (bench/worker.ts) is the real worker plus baseline routes; Miniflare serves it on",
    "127.0.0.1 with local D1 and KV, which run in the same workerd process, so their CPU cost is counted and",
    "network latency is not. `X-Bench-Cold: memory` empties the isolate memory tier before each request",
    "(the bare KV route pays the same); `X-Bench-Cold: kv` also sends every token-cache read to a key",
    "nothing writes, a real KV miss, while cache fills still write. Every token is verified once before",
    "measuring, so usage writes (at most one per token in 5 minutes) are at their steady state.",
    "",
  ].join("\n");
}

export function printTable(result) {
  const line = (cols) => console.log(cols.map((c, i) => (i === 0 ? String(c).padEnd(36) : i < 5 ? String(c).padStart(8) : ` ${c}`)).join(" "));
  console.log("");
  line(["route", "req/s", "p50 ms", "p99 ms", "CPU µs", "ratio to its baseline, same run"]);
  for (const [name, r] of Object.entries(result.routes)) line([r.label, Math.round(r.rps), r.p50ms, r.p99ms, r.cpuUsPerRequest ?? "-", ratioText(result, name)]);
  for (const [name, r] of Object.entries(result.routes)) {
    if (r.unexpected > 0 || r.errors > 0) console.log(`WARNING ${name}: ${r.unexpected} unexpected statuses ${JSON.stringify(r.statuses)}, ${r.errors} socket errors`);
  }
  console.log(`\n${result.machine}`);
}

/** `latest.json` (for scripts) and `latest.md` (for the README); a quick run writes `*.tmp` files instead. */
export function writeResults(result, { quick }) {
  mkdirSync("bench/results", { recursive: true });
  const base = quick ? "bench/results/quick" : "bench/results/latest";
  const suffix = quick ? ".tmp" : "";
  const json = {
    ratios: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.ratio])),
    targets: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.target])),
    ratiosPerRound: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.perRound])),
    cpuRatios: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.cpuRatio])),
    cpuUsPerRequest: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.cpuUsPerRequest])),
    rps: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.rps])),
    p50ms: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.p50ms])),
    p99ms: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.p99ms])),
    machine: result.machine,
    date: result.date,
    settings: result.settings,
    routes: result.routes,
    workerErrors: result.workerErrors,
  };
  writeFileSync(`${base}.json${suffix}`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${base}.md${suffix}`, markdown(result));
  return `${base}.json${suffix}`;
}
