// `node bench/profile.mjs <route> [seconds]`: where the worker isolate spends its time while wrk drives
// one bench route (names from bench/plan.mjs) at the bench's usual load. Serves the bench build as
// `npm run bench` does, with workerd's V8 inspector open, samples the CPU profile of the worker's own
// isolate over the Chrome DevTools protocol, and prints the functions with the most self time.
// Local D1 and KV run in other isolates of the same workerd and are not in this profile: their share
// shows as the gap between the route's CPU µs in `npm run bench` and the time listed here.

import { bin } from "../scripts/run.mjs";
import { applyMigrations, buildBenchWorker, eachLimited, fillKv, seed, seedApiKeys, startWorker } from "./harness.mjs";
import { findWorkerd, runWrk } from "./load.mjs";
import { benchRoutes } from "./plan.mjs";

const [route = "kvHit", seconds = "5"] = process.argv.slice(2);
const INSPECTOR_PORT = 9329;
const TOP = 30;

function connect(wsUrl) {
  const ws = new WebSocket(wsUrl);
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    }
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const mine = ++id;
      waiting.set(mine, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve({ send, close: () => ws.close() });
    ws.onerror = () => reject(new Error(`cannot open ${wsUrl}`));
  });
}

/** Self time per function (name and source position), over the sampled profile. */
function selfTimes(profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const byFunction = new Map();
  for (const [id, count] of counts) {
    const { functionName, url, lineNumber } = byNode.get(id).callFrame;
    const key = `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + count);
  }
  return { total, rows: [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP) };
}

const scriptPath = buildBenchWorker(bin("wrangler"));
const { mf, url } = await startWorker(scriptPath, { inspectorPort: INSPECTOR_PORT });
try {
  await applyMigrations(mf);
  const { org, tokens } = await seed(url, 1_000);
  await fillKv(url, tokens);
  await seedApiKeys(url, org, tokens);
  const routes = benchRoutes({ org, tokens, gateway: { path: "/__bench/constant" } });
  if (!routes[route]) throw new Error(`no route ${route}: one of ${Object.keys(routes).join(", ")}`);
  await eachLimited(routes.kvHit.requests, 16, async (r) =>
    (await fetch(new URL(r.path, url), { headers: r.headers })).text(),
  );
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json();
  const target = targets.find((t) => t.title?.includes("tessera-bench")) ?? targets[0];
  const inspector = await connect(target.webSocketDebuggerUrl);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.send("Profiler.start");
  const run = runWrk(url, routes[route].requests, {
    seconds: Number(seconds),
    threads: 2,
    connections: 32,
    workerdPid: findWorkerd(),
  });
  const { profile } = await inspector.send("Profiler.stop");
  inspector.close();
  const { total, rows } = selfTimes(profile);
  console.log(
    `${routes[route].label}: ${Math.round(run.requests / run.seconds)} req/s, ${Math.round(run.cpuUsPerRequest)} µs workerd CPU each; ${total} samples of the worker isolate (${target.title})`,
  );
  for (const [name, count] of rows) console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
} finally {
  await mf.dispose();
}
