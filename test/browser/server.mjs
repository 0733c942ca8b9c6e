// The worker as the browser tests see it: `wrangler dev` on a fresh local D1/KV in a temp
// directory, started once per run and stopped by its own process group (never orphaning workerd).
// Plain JavaScript with a .d.mts beside it, so the tests' TypeScript needs no Node type package.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRANGLER_ENV } from "../../scripts/run.mjs";

export { CHROMIUM } from "../../scripts/chromium.mjs";

// TESSERA_BROWSER_PORT lets two checkouts run their browser tests at once.
const PORT = Number(process.env.TESSERA_BROWSER_PORT ?? 8799);
const WRANGLER = join(process.cwd(), "node_modules", "wrangler", "bin", "wrangler.js");
const QUIET = { ...process.env, ...WRANGLER_ENV, NO_COLOR: "1" };
// Local only: the tests make and verify their own tokens; production takes the pepper from a secret.
const PEPPER = "browser-test-pepper-0123456789-0123456789-0123";
/** The instance's SETUP_TOKEN: first-run setup asks for it. */
export const SETUP_TOKEN = "browser-test-setup-token-0123456789";
const READY_TIMEOUT_MS = 90_000;

function wrangler(args) {
  const r = spawnSync(process.execPath, [WRANGLER, ...args], { env: QUIET, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export async function startServer() {
  if (!existsSync(join("ui", "dist", "index.html"))) {
    const b = spawnSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: "inherit", env: QUIET });
    if (b.status !== 0) throw new Error("the console build failed");
  }
  const persist = mkdtempSync(join(tmpdir(), "tessera-browser-"));
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);
  const args = [
    WRANGLER,
    "dev",
    "--port",
    String(PORT),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    persist,
    "--log-level",
    "warn",
    "--var",
    `TOKEN_PEPPER:${PEPPER}`,
    "--var",
    `SETUP_TOKEN:${SETUP_TOKEN}`,
  ];
  // detached: the child leads its own process group (setsid), so one signal reaches workerd too.
  const child = spawn(process.execPath, args, { env: QUIET, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${PORT}`;
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  // wrangler first, so it reaps its workerd; then the group, for anything left behind.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    killGroup("SIGKILL");
    rmSync(persist, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(`${url}/api/setup`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within ${READY_TIMEOUT_MS / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, persist, stop };
}

/** Runs SQL on the server's local D1 (to move state a browser cannot, e.g. let a confirmation lapse). */
export function d1(persist, sql) {
  return wrangler(["d1", "execute", "DB", "--local", "--persist-to", persist, "--command", sql]);
}

/** Where screenshots go: always the git-ignored results folder; main screens also to docs/screenshots on request. */
export function screenshotDirs() {
  return {
    results: join("test-results", "browser"),
    docs: process.env.TESSERA_DOCS_SCREENSHOTS === "1" ? join("docs", "screenshots") : "",
  };
}

/** A downloaded file's text (playwright-core hands back a path). */
export function readText(path) {
  return readFileSync(path, "utf8");
}
