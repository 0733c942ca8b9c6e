// Runs after `wrangler deploy --dry-run --outdir dist-worker`: prints the worker bundle's gzip size
// and fails above the budget. Source maps and the README wrangler writes are not uploaded, so not counted.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 300 * 1000;
const dir = process.argv[2] ?? "dist-worker";
const MODULE = /\.(m?js|cjs|wasm)$/;

let raw = 0;
let gzip = 0;
for (const name of readdirSync(dir)) {
  const path = join(dir, name);
  if (!MODULE.test(name) || !statSync(path).isFile()) continue;
  const bytes = readFileSync(path);
  raw += bytes.length;
  gzip += gzipSync(bytes).length;
}
if (raw === 0) {
  console.error(`worker size: no bundle in ${dir}; run wrangler deploy --dry-run --outdir ${dir} first`);
  process.exit(1);
}
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
const verdict = gzip <= BUDGET_BYTES ? "within" : "OVER";
console.log(`worker bundle: ${kb(raw)}, gzip ${kb(gzip)} (${verdict} the ${kb(BUDGET_BYTES)} budget)`);
if (gzip > BUDGET_BYTES) process.exit(1);
