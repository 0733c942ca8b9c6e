// One side of `npm run bench -- --ab <rev>` (bench/ab.mjs): serves the bench build of the tree it is
// run in (the working directory: this checkout, or a checkout of <rev> this file is copied into), with
// that tree's own harness, bindings and migrations, seeds BENCH_AB_TOKENS tokens and their KV entries,
// prints one `AB_READY {json}` line (address, workerd's pid, the seed), then serves until its standard
// input closes. It uses only what bench/harness.mjs has exported since the bench began, so an older
// tree serves itself the way it was measured then.

import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const here = (path) => pathToFileURL(resolve(path)).href;
const { bin } = await import(here("scripts/run.mjs"));
const { applyMigrations, buildBenchWorker, fillKv, seed, startWorker } = await import(here("bench/harness.mjs"));

/** The workerd process Miniflare started for this process (bench/load.mjs's `findWorkerd`, which old trees lack). */
function workerdChild() {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(readFileSync(`/proc/${entry}/stat`, "utf8")) ?? [];
      if (comm === "workerd" && Number(rest?.split(" ")[1]) === process.pid) return Number(entry);
    } catch {
      // The process ended while being read.
    }
  }
  throw new Error("the workerd process Miniflare started was not found");
}

const { mf, url, errors } = await startWorker(buildBenchWorker(bin("wrangler")));
const migrations = await applyMigrations(mf);
const { org, tokens } = await seed(url, Number(process.env.BENCH_AB_TOKENS ?? 2_000));
await fillKv(url, tokens);
console.log(`AB_READY ${JSON.stringify({ url: url.href, workerdPid: workerdChild(), migrations, org, tokens })}`);

// Commands on standard input, one a line: "refill" rewrites every token's KV entry (they live 5 minutes).
process.stdin.setEncoding("utf8");
let pending = "";
process.stdin.on("data", async (chunk) => {
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop();
  for (const line of lines) {
    if (line === "refill") {
      await fillKv(url, tokens);
      console.log("AB_REFILLED");
    }
  }
});
process.stdin.on("end", async () => {
  if (errors.length > 0) console.error(`the worker logged ${errors.length} errors, first: ${errors[0]}`);
  await mf.dispose();
  process.exit(0);
});
