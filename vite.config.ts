import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

export default defineConfig({
  root: "ui",
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // One small bundle; the polyfill only serves browsers that cannot run the console anyway.
    modulePreload: { polyfill: false },
    target: "es2022",
    // No inline scripts or data URLs: the CSP (ui/public/_headers) allows 'self' only.
    assetsInlineLimit: 0,
  },
});
