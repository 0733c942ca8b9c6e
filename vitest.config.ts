import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import ClosingLineReporter from "./scripts/closing-line-reporter";
import ConsoleFirstSequencer from "./scripts/console-first-sequencer";

const migrations = await readD1Migrations("./migrations");
// The secret the example downstream Worker checks gateway signatures with (its `wrangler secret`);
// test/gateway-signature.test.ts gives it to the upstream it routes to the example.
const EXAMPLE_SIGNING_SECRET = `tus_${"5e".repeat(32)}`;

export default defineConfig({
  test: {
    reporters: ["default", new ClosingLineReporter()],
    // Root-only in Vitest: the browser files run console.test.ts first (scripts/console-first-sequencer.ts).
    sequence: { sequencer: ConsoleFirstSequencer },
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                TOKEN_PEPPER: "test-pepper-0123456789-0123456789-0123456789",
                SETUP_TOKEN: "test-setup-token-0123456789abcdef",
                EXAMPLE_SIGNING_SECRET,
              },
              // Two-Worker tests (test/gateway*.test.ts, test/rpc-example.test.ts): the auxiliary Workers below.
              serviceBindings: { GATEWAY_UPSTREAM: "gateway-upstream", DOWNSTREAM_EXAMPLE: "downstream-example" },
              workers: [
                {
                  name: "gateway-upstream",
                  modules: true,
                  scriptPath: "./test/support/gateway-upstream.mjs",
                  compatibilityDate: "2026-11-09",
                },
                {
                  // examples/downstream, bundled by test/support/build-examples.mjs with its own wrangler.toml.
                  name: "downstream-example",
                  modules: true,
                  scriptPath: "./.wrangler/examples/downstream/index.js",
                  compatibilityDate: "2026-11-09",
                  bindings: { TESSERA_SIGNING_SECRET: EXAMPLE_SIGNING_SECRET },
                  // The runner Worker is Tessera under test; the plugin names it after the project ("workers").
                  serviceBindings: { TESSERA: { name: "vitest-plugin-runner-workers", entrypoint: "TesseraRpc" } },
                },
              ],
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/**/*.test.ts"],
          // Crypto-heavy tests (HMAC per webhook delivery, thousands of seeded tokens) pass in about a second
          // on an idle machine; on a busy 2-core one they have crossed the 5 s default.
          testTimeout: 20_000,
          exclude: ["test/browser/**"],
          setupFiles: ["./test/support/apply-migrations.ts"],
          globalSetup: ["./test/support/build-examples.mjs"],
        },
      },
      {
        // The console in headless Chromium against `wrangler dev` on fresh local D1/KV (test/browser/server.mjs).
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/browser/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
