// Runs the example on Node: TESSERA_URL=https://tessera.example.com TESSERA_CALLER_TOKEN=tso_... npx tsx src/server.ts
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { createApp } from "./app";

const app = createApp({
  baseUrl: process.env.TESSERA_URL ?? "http://localhost:8787",
  // This server's own token: without it Tessera ignores clientIp (docs/INTEGRATION.md, "HTTP middleware").
  callerToken: process.env.TESSERA_CALLER_TOKEN,
  clientIp: (c) => getConnInfo(c).remote.address,
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, (info) => {
  console.log(`listening on http://localhost:${info.port}`);
});
