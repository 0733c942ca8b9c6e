// `npm test`: types, typecheck, console build, then every test (workerd and browser). The last line
// is always `N passed, N failed, N skipped`, the form CI reads.
import { ensureChromium } from "./chromium.mjs";
import { bin, run } from "./run.mjs";

const steps = [
  // Formatting and lint drift fails the run (biome.jsonc); `npx biome check --write .` fixes most of it.
  ["check formatting and lint", bin("biome"), ["ci", "--reporter=summary", "."]],
  ["generate runtime types", bin("wrangler"), ["types"]],
  ["typecheck the worker and tests", bin("tsc"), ["--noEmit", "-p", "."]],
  ["typecheck the console", bin("tsc"), ["--noEmit", "-p", "ui"]],
  ["typecheck the browser tests", bin("tsc"), ["--noEmit", "-p", "test/browser"]],
  ["typecheck the bench", bin("tsc"), ["--noEmit", "-p", "bench"]],
  ["typecheck the Node example", bin("tsc"), ["--noEmit", "-p", "examples/node-http"]],
  ["build the console", process.execPath, ["scripts/build-ui.mjs"]],
  // docs/openapi.json and test/generated/openapi.d.ts are what the worker serves now, and valid OpenAPI.
  ["check the OpenAPI document", process.execPath, ["scripts/openapi.mjs", "--check"]],
];
const fail = (what) => {
  console.log(`\n${what} failed`);
  console.log("0 passed, 1 failed, 0 skipped");
  process.exit(1);
};
for (const [what, command, args] of steps) {
  console.log(`\n> ${what}`);
  if (run(command, args) !== 0) fail(what);
}
if (!ensureChromium()) fail("finding Chromium");
process.exit(run(bin("vitest"), ["run", ...process.argv.slice(2)]));
