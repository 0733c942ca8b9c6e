// Builds the console with Vite, then holds it to its size budget: the JavaScript users download,
// gzipped, must stay at or under 25 KB, or the build fails.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bin, run } from "./run.mjs";

const JS_BUDGET_BYTES = 25 * 1024;
const ASSETS = join("ui", "dist", "assets");

const status = run(bin("vite"), ["build", "--logLevel", "warn"]);
if (status !== 0) process.exit(status);

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
let js = 0;
for (const name of readdirSync(ASSETS).sort()) {
  const bytes = readFileSync(join(ASSETS, name));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  if (name.endsWith(".js")) js += gzip;
  console.log(`  ui/dist/assets/${name}  ${kb(bytes.length)}  gzip ${kb(gzip)}`);
}
const verdict = js <= JS_BUDGET_BYTES ? "within" : "OVER";
console.log(`console JavaScript: ${kb(js)} gzip, ${verdict} the ${kb(JS_BUDGET_BYTES)} budget`);
if (js > JS_BUDGET_BYTES) process.exit(1);
