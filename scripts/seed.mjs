// `npm run seed`: a demo organization, user and one token of each kind in the local D1/KV that
// `wrangler dev` uses (.wrangler/state), made by the worker's own data functions (worker/seed/demo.ts)
// through wrangler's getPlatformProxy. Prints each secret once; a second run changes nothing.
//   --persist-to <dir>   another local state directory (as `wrangler dev --persist-to`)
import { parseArgs } from "node:util";
import { ensureDevVars } from "./dev-vars.mjs";
import { bin, run, WRANGLER_ENV } from "./run.mjs";

const { values: args } = parseArgs({ options: { "persist-to": { type: "string" } } });
const persistTo = args["persist-to"];
const DEV_ORIGIN = "http://localhost:8787";

// The pepper must be the one `wrangler dev` will use, or the seeded tokens never verify.
ensureDevVars();

const migrate = ["d1", "migrations", "apply", "DB", "--local", ...(persistTo ? ["--persist-to", persistTo] : [])];
if (run(bin("wrangler"), migrate, { stdio: ["ignore", "ignore", "inherit"] }) !== 0) {
  console.error("Applying the D1 migrations failed.");
  process.exit(1);
}

Object.assign(process.env, WRANGLER_ENV);
const { getPlatformProxy } = await import("wrangler");
const { tsImport } = await import("tsx/esm/api");
const { seedDemo, DEMO_ORG } = await tsImport("../worker/seed/demo.ts", import.meta.url);

// `persist: true` is `.wrangler/state/v3`, where `wrangler dev` keeps its local D1 and KV.
const proxy = await getPlatformProxy({ persist: persistTo ? { path: `${persistTo}/v3` } : true });
let result;
try {
  result = await seedDemo(proxy.env, Date.now());
} finally {
  await proxy.dispose();
}

if (!result.created) {
  console.log(
    `The demo organization "${DEMO_ORG.slug}" exists already; nothing to do (its secrets were shown when it was made).`,
  );
  process.exit(0);
}

const { user, tokens } = result;
console.log(
  `\nDemo organization "${DEMO_ORG.slug}": group "platform", projects web, api (organization) and mobile (in platform).`,
);
console.log(`\nConsole user ${user.email} (${user.role === "owner" ? "instance owner" : "admin of demo"})`);
console.log(user.password ? `  password: ${user.password}` : "  existing account: its password is unchanged");
console.log("\nTokens (each secret is shown this once; Tessera stores only its hash):");
for (const t of tokens) {
  // Tokens, permission names and project keys here are all URL-safe: printed as typed, not %-encoded.
  const query = `session=${t.secret}&permission=${t.example.permission}&project=${t.example.project}`;
  console.log(`\n  ${t.kind.padEnd(8)} ${t.name}\n  ${t.secret}`);
  console.log(`  curl "${DEV_ORIGIN}/v1/verify?${query}"`);
}
console.log("\nStart the server with `npm run dev`.");
