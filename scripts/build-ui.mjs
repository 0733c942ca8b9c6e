// Builds the console with Vite, then holds it to its size budgets (gzip): the first screen's
// JavaScript (the entry script index.html loads and the chunks it preloads) must stay at or under
// 25 KB, and every chunk loaded on demand (`import()` in ui/src/main.tsx) at or under 10 KB, or the
// build fails. CI runs this through `npm run dry-run` (.ci/run).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bin, run } from "./run.mjs";

const FIRST_SCREEN_BUDGET_BYTES = 25 * 1024;
const LAZY_CHUNK_BUDGET_BYTES = 10 * 1024;
const DIST = join("ui", "dist");
const ASSETS = join(DIST, "assets");

const status = run(bin("vite"), ["build", "--logLevel", "warn"]);
if (status !== 0) process.exit(status);

// What the page loads before anything shows: the module script and its modulepreload links.
const html = readFileSync(join(DIST, "index.html"), "utf8");
const firstScreen = new Set(
  [
    ...html.matchAll(/<(?:script type="module"[^>]*src|link rel="modulepreload"[^>]*href)="\/assets\/([^"]+\.js)"/g),
  ].map((m) => m[1]),
);
if (firstScreen.size === 0) {
  console.log("no entry script found in ui/dist/index.html");
  process.exit(1);
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
let first = 0;
const over = [];
for (const name of readdirSync(ASSETS).sort()) {
  const bytes = readFileSync(join(ASSETS, name));
  const gzip = gzipSync(bytes, { level: 9 }).length;
  let role = "";
  if (name.endsWith(".js")) {
    if (firstScreen.has(name)) {
      first += gzip;
      role = "first screen";
    } else {
      role = "on demand";
      if (gzip > LAZY_CHUNK_BUDGET_BYTES) over.push(`${name} (${kb(gzip)})`);
    }
  }
  console.log(`  ui/dist/assets/${name}  ${kb(bytes.length)}  gzip ${kb(gzip)}  ${role}`);
}
const verdict = first <= FIRST_SCREEN_BUDGET_BYTES ? "within" : "OVER";
console.log(
  `console first screen JavaScript: ${kb(first)} gzip, ${verdict} the ${kb(FIRST_SCREEN_BUDGET_BYTES)} budget`,
);
for (const chunk of over) console.log(`on-demand chunk OVER the ${kb(LAZY_CHUNK_BUDGET_BYTES)} budget: ${chunk}`);
if (first > FIRST_SCREEN_BUDGET_BYTES || over.length > 0) process.exit(1);
