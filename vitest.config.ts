import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import ClosingLineReporter from "./scripts/closing-line-reporter";

const migrations = await readD1Migrations("./migrations");

export default defineConfig({
  test: {
    reporters: ["default", new ClosingLineReporter()],
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                TOKEN_PEPPER: "test-pepper-0123456789-0123456789-0123456789",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/**/*.test.ts"],
          exclude: ["test/browser/**"],
          setupFiles: ["./test/support/apply-migrations.ts"],
        },
      },
    ],
  },
});
