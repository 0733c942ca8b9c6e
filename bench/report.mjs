// Turns the rounds' wrk results into the table, bench/results/latest.json and latest.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { LATENCY_PAIRS, PAIRS } from "./plan.mjs";

const round1 = (n) => Math.round(n * 10) / 10;
const round2 = (n) => Math.round(n * 100) / 100;

export const loadAverage = () => loadavg().map(round2).join("/");

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
    cpuUsPerRequest: cpu.length
      ? round1(cpu.reduce((n, r) => n + r.cpuUsPerRequest * r.requests, 0) / cpu.reduce((n, r) => n + r.requests, 0))
      : null,
    p50ms: round2(runs.reduce((n, r) => n + r.p50ms, 0) / runs.length),
    p99ms: round2(runs.reduce((n, r) => n + r.p99ms, 0) / runs.length),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    unexpected: Object.values(statuses).reduce((n, c) => n + c, 0) - expected,
    statuses,
  };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
export const rate = (run) => run.requests / run.seconds;

export const perRequestCpuRatio = (subject, baseline) =>
  subject.cpuUsPerRequest && baseline.cpuUsPerRequest ? baseline.cpuUsPerRequest / subject.cpuUsPerRequest : null;

/**
 * The median over the rounds of `ratio(subject run, baseline run)` for the rounds that have both, with
 * the lowest and highest round.
 */
export function medianOverRounds(subjectRuns, baselineRuns, ratio) {
  const perRound = subjectRuns
    .map((run, i) => (baselineRuns[i] ? ratio(run, baselineRuns[i]) : null))
    .filter((r) => r !== null);
  if (perRound.length === 0) return { ratio: null, range: null, perRound: [] };
  return {
    ratio: round2(median(perRound)),
    range: [round2(Math.min(...perRound)), round2(Math.max(...perRound))],
    perRound: perRound.map(round2),
  };
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
    out[name] = {
      baseline: base,
      subject,
      target,
      ...byRate,
      cpuRatio: byCpu.ratio,
      cpuRange: byCpu.range,
      cpuPerRound: byCpu.perRound,
    };
  }
  return out;
}

/**
 * The light-load pairs: per round, subject p50 over baseline p50 (and the same for p90), lower is
 * better; the median over the rounds with its range, and each side's median p50 and p90 in ms.
 */
export function latencyRatios(runs) {
  const out = {};
  for (const [name, [base, subject, target]] of Object.entries(LATENCY_PAIRS)) {
    const b = runs[base] ?? [];
    const s = runs[subject] ?? [];
    const p50 = medianOverRounds(s, b, (run, baseRun) => run.p50ms / baseRun.p50ms);
    const p90 = medianOverRounds(s, b, (run, baseRun) => run.p90ms / baseRun.p90ms);
    const ms = (list, key) => (list.length ? round2(median(list.map((r) => r[key]))) : null);
    out[name] = {
      baseline: base,
      subject,
      target,
      ...p50,
      p90Ratio: p90.ratio,
      p90Range: p90.range,
      p90PerRound: p90.perRound,
      subjectMs: {
        p50: ms(s, "p50ms"),
        p90: ms(s, "p90ms"),
        perRoundP50: s.map((r) => r.p50ms),
        perRoundP90: s.map((r) => r.p90ms),
      },
      baselineMs: {
        p50: ms(b, "p50ms"),
        p90: ms(b, "p90ms"),
        perRoundP50: b.map((r) => r.p50ms),
        perRoundP90: b.map((r) => r.p90ms),
      },
    };
  }
  return out;
}

const rangeText = (range) => (range ? ` (${range[0]}-${range[1]})` : "");

function latencyVerdict({ ratio, target }) {
  if (ratio === null) return "not measured";
  return ratio <= target ? `meets <= ${target}` : `ABOVE the ${target} limit`;
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
      const cpu = pair.cpuRatio === null ? "" : ` [CPU ${pair.cpuRatio}x${rangeText(pair.cpuRange)}]`;
      return `${pair.ratio ?? "-"}x${rangeText(pair.range)} ${result.routes[pair.baseline]?.label ?? pair.baseline}${cpu}, ${verdict(pair)}`;
    })
    .join("; ");
}

function latencyLines(result) {
  return Object.values(result.latency ?? {}).map((l) => {
    const label = (name) => result.lightRoutes?.[name]?.label ?? name;
    return {
      subject: label(l.subject),
      baseline: label(l.baseline),
      text: `p50 ${l.subjectMs.p50} ms vs ${l.baselineMs.p50} ms: ${l.ratio ?? "-"}x${rangeText(l.range)}, ${latencyVerdict(l)}; p90 ${l.subjectMs.p90} ms vs ${l.baselineMs.p90} ms: ${l.p90Ratio ?? "-"}x${rangeText(l.p90Range)}`,
    };
  });
}

function latencyMarkdown(result) {
  const lines = latencyLines(result);
  if (lines.length === 0) return [];
  const s = result.settings;
  return [
    `Light load: wrk 1 thread, 1 connection, ${s.lightPauseMs} ms pause after each answer, ${s.lightSecondsPerRoute} s per route in ${s.rounds} rounds.`,
    "A ratio is the median over the rounds of subject p50 over baseline p50 (lower is better), the two measured back to back.",
    "",
    "| subject | baseline | answer latency (median of rounds) |",
    "|---|---|---|",
    ...lines.map((l) => `| ${l.subject} | ${l.baseline} | ${l.text} |`),
    "",
  ];
}

export function markdown(result) {
  const rows = Object.entries(result.routes).map(
    ([name, r]) =>
      `| ${r.label} | ${r.rps} | ${r.p50ms} | ${r.p99ms} | ${r.cpuUsPerRequest ?? "-"} | ${ratioText(result, name)} |`,
  );
  return [
    `Measured ${result.date} on ${result.machine}, ${result.loadAverageAtEnd} at end.`,
    `wrk ${result.settings.threads} threads, ${result.settings.connections} connections, ${result.settings.secondsPerRoute} s per route in ${result.settings.rounds} rounds, ${result.settings.tokens} seeded tokens${result.settings.pin ? "; workerd on CPU 0, wrk on CPU 1" : ""}.`,
    "req/s is over all rounds; p50 and p99 are the rounds' mean; CPU µs is workerd's CPU time per answered request (local D1 and KV included);",
    "a ratio is the median over the rounds of the two routes measured back to back, by req/s and [in brackets] by CPU time per request;",
    "(low-high) is the lowest and highest round.",
    "",
    "| route | req/s | p50 ms | p99 ms | CPU µs | ratio to its baseline (same run) |",
    "|---|---:|---:|---:|---:|---|",
    ...rows,
    "",
    ...latencyMarkdown(result),
    ...(result.scale ? [...scaleLines(result.scale).map((l) => `- ${l}`), ""] : []),
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
  const line = (cols) =>
    console.log(
      cols.map((c, i) => (i === 0 ? String(c).padEnd(36) : i < 5 ? String(c).padStart(8) : ` ${c}`)).join(" "),
    );
  console.log("");
  line(["route", "req/s", "p50 ms", "p99 ms", "CPU µs", "ratio to its baseline, same run"]);
  for (const [name, r] of Object.entries(result.routes))
    line([r.label, Math.round(r.rps), r.p50ms, r.p99ms, r.cpuUsPerRequest ?? "-", ratioText(result, name)]);
  for (const [name, r] of Object.entries(result.routes)) {
    if (r.unexpected > 0 || r.errors > 0)
      console.log(
        `WARNING ${name}: ${r.unexpected} unexpected statuses ${JSON.stringify(r.statuses)}, ${r.errors} socket errors`,
      );
  }
  for (const l of latencyLines(result)) console.log(`\nlight load, ${l.subject} against ${l.baseline}: ${l.text}`);
  if (result.scale) printScale(result.scale);
  console.log(`\n${result.machine}, ${result.loadAverageAtEnd} at end`);
}

/** `latest.json` (for scripts) and `latest.md` (for the README); a quick run writes `*.tmp` files instead. */
export function writeResults(result, { quick }) {
  mkdirSync("bench/results", { recursive: true });
  const base = quick ? "bench/results/quick" : "bench/results/latest";
  const suffix = quick ? ".tmp" : "";
  const json = {
    ratios: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.ratio])),
    targets: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.target])),
    ratioRanges: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.range])),
    ratiosPerRound: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.perRound])),
    cpuRatios: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.cpuRatio])),
    cpuRatioRanges: Object.fromEntries(Object.entries(result.pairs).map(([k, p]) => [k, p.cpuRange])),
    latency: result.latency,
    cpuUsPerRequest: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.cpuUsPerRequest])),
    rps: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.rps])),
    p50ms: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.p50ms])),
    p99ms: Object.fromEntries(Object.entries(result.routes).map(([k, r]) => [k, r.p99ms])),
    machine: result.machine,
    date: result.date,
    settings: result.settings,
    routes: result.routes,
    lightRoutes: result.lightRoutes,
    loadAverageAtEnd: result.loadAverageAtEnd,
    workerErrors: result.workerErrors,
    scale: result.scale,
  };
  writeFileSync(`${base}.json${suffix}`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${base}.md${suffix}`, markdown(result));
  return `${base}.json${suffix}`;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The counts at an organization's scale (bench/scale.ts), one sentence each. */
export function scaleLines(scale) {
  const at = `${scale.projects.toLocaleString("en")} projects and ${scale.tokens.toLocaleString("en")} tokens for all projects`;
  const create = scale.projectCreate;
  return [
    `At ${at} in one organization (counts, not timings):`,
    `a token's KV entry is ${scale.tokenEntryBytes} bytes (budget 2 KB);`,
    `creating a project makes ${create.kvWrites} KV writes in ${create.ms} ms (${create.smallOrgKvWrites} writes, ${create.smallOrgMs} ms in an organization of 20 projects; budget: a handful);`,
    `with every token and every project cached, the memory tiers hold ${mb(scale.memory.tokenBytes)} of tokens (bound ${mb(scale.memory.tokenBoundBytes)}) and ${kb(scale.memory.projectFactBytes)} of project facts (bound ${mb(scale.memory.projectFactBoundBytes)}).`,
  ];
}

export function printScale(scale) {
  console.log(`\n${scaleLines(scale).join("\n  ")}`);
}

/** `npm run bench -- --scale` alone: bench/results/scale.json. */
export function writeScale(scale) {
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/scale.json", `${JSON.stringify(scale, null, 2)}\n`);
}
