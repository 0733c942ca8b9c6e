// Vitest global setup (runs in Node, before workerd starts): bundles examples/downstream with its own
// wrangler.toml, as its users would deploy it, into the file vitest.config.ts loads as an auxiliary Worker.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { WRANGLER_ENV } from "../../scripts/run.mjs";

export default function buildExamples() {
  const root = process.cwd();
  const result = spawnSync(
    process.execPath,
    [
      join(root, "node_modules", "wrangler", "bin", "wrangler.js"),
      "deploy",
      "--dry-run",
      "--config",
      join(root, "examples", "downstream", "wrangler.toml"),
      "--outdir",
      join(root, ".wrangler", "examples", "downstream"),
    ],
    { cwd: root, encoding: "utf8", env: { ...process.env, ...WRANGLER_ENV } },
  );
  if (result.status !== 0) throw new Error(`bundling examples/downstream failed:\n${result.stdout}\n${result.stderr}`);
}
