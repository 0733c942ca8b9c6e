// An upstream an org admin controls, for test/browser/gateway-isolation.test.ts: a plain Node HTTP
// server on loopback whose every answer is an HTML page with a script that, run on Tessera's
// origin, would read /api/me with the visiting owner's cookie and mark the page as taken over.
// Plain JavaScript with a .d.mts beside it, so the tests' TypeScript needs no Node type package.
import { createServer } from "node:http";

export const TAKEN_OVER = "taken over";

const PAGE = `<!doctype html>
<html><head><title>hostile upstream</title></head>
<body><script>
document.title = ${JSON.stringify(TAKEN_OVER)};
fetch("/api/me", { credentials: "include" }).then((r) => r.text()).then((t) => { document.body.dataset.me = t; });
</script></body></html>`;

export function startHostileUpstream() {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "service-worker-allowed": "/",
      "set-cookie": "__Host-tessera_session=planted; Path=/; Secure",
    });
    res.end(PAGE);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        origin: `http://127.0.0.1:${port}`,
        hits: () => hits,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
