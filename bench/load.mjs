// Drives one route with wrk (bench/wrk.lua) and reads back its counts and latencies.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** After a run, workerd counts as idle once it spends under 5% of a 50 ms window on a CPU; at most 5 s. */
const IDLE_WINDOW_MS = 50;
const IDLE_CPU_SHARE = 0.05;
const SETTLE_MAX_MS = 5_000;
const scratch = mkdtempSync(join(tmpdir(), "tessera-bench-"));
let files = 0;

/** Installs Debian's wrk when it is missing (the bench runs as root on these machines). */
export function ensureWrk() {
  if (spawnSync("wrk", ["--version"]).error === undefined) return;
  console.log("wrk is not installed: installing Debian's package (apt-get install -y wrk)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", "wrk"],
  ]) {
    const result = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (result.status !== 0)
      throw new Error(`apt-get ${args.join(" ")} failed: install wrk by hand (Debian package "wrk") and re-run`);
  }
}

/** Raw HTTP/1.1 requests, one per line with line breaks escaped, for wrk.lua to replay. */
function writeRequests(host, requests) {
  const lines = requests.map(({ path, headers = {} }) => {
    const head = [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return `${head.join("\\n")}\\n\\n`;
  });
  const file = join(scratch, `requests-${++files}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/**
 * The workerd process Miniflare started for this bench: a child of this Node process. Local D1 and KV
 * run inside it too, so its CPU time is the whole cost of serving a route.
 */
export function findWorkerd() {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      if (comm === "workerd" && Number(rest?.split(" ")[1]) === process.pid) return Number(entry);
    } catch {
      // The process ended while being read.
    }
  }
  return null;
}

/** Nanoseconds the process's threads have spent on a CPU (the first field of each thread's schedstat). */
function cpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended while being read.
    }
  }
  return total;
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function settle(pid) {
  const until = Date.now() + SETTLE_MAX_MS;
  let last = cpuNs(pid);
  while (Date.now() < until) {
    sleep(IDLE_WINDOW_MS);
    const now = cpuNs(pid);
    if (now - last < IDLE_WINDOW_MS * 1e6 * IDLE_CPU_SHARE) return;
    last = now;
  }
}

/** How many CPUs this process may run on (`nproc`): pinning needs two, one for workerd and one for wrk. */
export function availableCpus() {
  const result = spawnSync("nproc", { encoding: "utf8" });
  return result.status === 0 ? Number(result.stdout.trim()) : 1;
}

/**
 * Keeps a process and all its threads on the given CPUs (`taskset` list syntax, "0" or "0-1"), so the
 * server and the load generator stop trading cores between runs: on a 2-core machine that trading moved
 * one route's rate by up to 2x from round to round.
 */
export function pinProcess(pid, cpus) {
  const result = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`taskset could not pin ${pid} to CPUs ${cpus}: ${result.stderr}`);
}

/**
 * One wrk run: `requests` are cycled through for `seconds`; with `pauseMs`, each connection waits that
 * long after an answer before its next request (bench/wrk-paced.lua); with `cpus`, wrk runs on those CPUs only. Returns requests, seconds, p50/p90/p99 in ms,
 * socket errors, the count of each HTTP status, and (given workerd's pid) workerd's CPU microseconds
 * per answered request: time the machine spent elsewhere (other processes, a neighbour on the host)
 * moves req/s but not this.
 */
export function runWrk(url, requests, { seconds, threads, connections, workerdPid = null, pauseMs = 0, cpus = null }) {
  const file = writeRequests(url.host, requests);
  const cpuBefore = workerdPid === null ? null : cpuNs(workerdPid);
  const script = pauseMs > 0 ? "bench/wrk-paced.lua" : "bench/wrk.lua";
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "10s",
    "-s",
    script,
    url.href,
    "--",
    file,
    String(threads),
    String(pauseMs),
  ];
  const result =
    cpus === null
      ? spawnSync("wrk", args, { encoding: "utf8" })
      : spawnSync("taskset", ["-c", cpus, "wrk", ...args], { encoding: "utf8" });
  const line = result.stdout?.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (result.status !== 0 || !line)
    throw new Error(`wrk failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  const raw = JSON.parse(line.slice("BENCH_RESULT ".length));
  // Answers still in flight when wrk stops, and their background work (`waitUntil`: a miss's fill runs
  // after its answer), finish before the CPU is read, so the route that caused the work is charged for
  // it and the next route starts on an idle workerd.
  if (cpuBefore !== null) settle(workerdPid);
  return {
    cpuUsPerRequest:
      cpuBefore === null || raw.requests === 0 ? null : (cpuNs(workerdPid) - cpuBefore) / 1000 / raw.requests,
    requests: raw.requests,
    seconds: raw.durationUs / 1e6,
    p50ms: raw.p50Us / 1000,
    p90ms: raw.p90Us / 1000,
    p99ms: raw.p99Us / 1000,
    errors: raw.errors.connect + raw.errors.read + raw.errors.write + raw.errors.timeout,
    statuses: raw.statuses,
  };
}
