// Runs a package binary from node_modules/.bin with this Node (22, from the `node` devDependency).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Wrangler, offline and quiet, for every script that runs it: no telemetry, no `Request.cf` fetch. */
export const WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

export function bin(name) {
  const path = join(process.cwd(), "node_modules", ".bin", name);
  if (!existsSync(path)) throw new Error(`${name} is not installed: run npm install first`);
  return path;
}

/** Runs a command with inherited output, under WRANGLER_ENV; returns its exit status. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    stdio: "inherit",
    ...options,
    env: { ...process.env, ...WRANGLER_ENV, ...options.env },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}
