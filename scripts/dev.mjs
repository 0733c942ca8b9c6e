// `npm run dev`: first-run preparation, then `wrangler dev` on local D1 and KV.
import { copyFileSync, existsSync } from "node:fs";
import { bin, run } from "./run.mjs";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars with a local-only TOKEN_PEPPER.");
}
for (const [command, args] of [
  [process.execPath, ["scripts/build-ui.mjs"]],
  [bin("wrangler"), ["d1", "migrations", "apply", "DB", "--local"]],
]) {
  if (run(command, args) !== 0) process.exit(1);
}
console.log("\nTessera is starting at http://localhost:8787 (first run: the console opens on setup).\n");
process.exit(run(bin("wrangler"), ["dev", "--port", "8787", ...process.argv.slice(2)]));
