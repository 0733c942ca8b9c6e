// An upstream behind the gateway for test/browser/upstreams.test.ts: a plain Node HTTP server on
// loopback that records what each request carried, so the test can check X-Tessera-Signature
// against the secret the console showed. Plain JavaScript with a .d.mts beside it, so the tests'
// TypeScript needs no Node type package.
import { createServer } from "node:http";

export function startRecordingUpstream() {
  const received = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method, path: req.url.split("?")[0], headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        origin: `http://127.0.0.1:${port}`,
        received,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
