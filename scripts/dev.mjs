// `npm run dev`: first-run preparation, then `wrangler dev` on local D1 and KV.
import { ensureDevVars } from "./dev-vars.mjs";
import { bin, run } from "./run.mjs";

const setupToken = ensureDevVars();
for (const [command, args] of [
  [process.execPath, ["scripts/build-ui.mjs"]],
  [bin("wrangler"), ["d1", "migrations", "apply", "DB", "--local"]],
]) {
  if (run(command, args) !== 0) process.exit(1);
}
console.log(
  `\nTessera is starting at http://localhost:8787. First run: open http://localhost:8787/setup#token=${setupToken}\n` +
    "(the link fills in this checkout's SETUP_TOKEN, kept in .dev.vars).\n",
);
process.exit(run(bin("wrangler"), ["dev", "--port", "8787", ...process.argv.slice(2)]));
