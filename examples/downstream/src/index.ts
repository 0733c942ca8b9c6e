// An API protected by Tessera over a service binding, and the same API behind Tessera's gateway.
// `wrangler dev` / `wrangler deploy` with examples/downstream/wrangler.toml; Tessera must be
// deployed (or running locally) as "tessera".
import { Hono } from "hono";
import { type SignedEnv, signedByTessera } from "./gateway-signature";
import { type TesseraEnv, tessera } from "./tessera";

const app = new Hono<TesseraEnv>()
  // Public: no token asked.
  .get("/health", (c) => c.text("ok"))
  // Any valid token: who is calling.
  .get("/whoami", tessera(), (c) => c.json({ token: c.var.tessera }))
  // A permission on a project named in the path.
  .get(
    "/projects/:project/analyses",
    tessera({ permission: "analysis:read", project: (c) => c.req.param("project") }),
    (c) => c.json({ project: c.req.param("project"), analyses: [], readBy: c.var.tessera.id }),
  )
  .post(
    "/projects/:project/analyses",
    tessera({ permission: "analysis:execute", project: (c) => c.req.param("project") }),
    async (c) => c.json({ project: c.req.param("project"), accepted: true, submittedBy: c.var.tessera.id }, 202),
  );

// Behind the gateway: this Worker is the upstream `https://<this worker>/via-gateway`, Tessera has
// checked the token against the upstream's rules, and the signature proves the request came from
// there. Clients call `https://tessera.example.com/gw/<name>/whoami`.
const viaGateway = new Hono<SignedEnv>()
  .use(signedByTessera())
  .get("/whoami", (c) => c.json({ caller: c.var.caller }))
  .post("/analyses", (c) => c.json({ accepted: true, submittedBy: c.var.caller.tokenId }, 202));

export default app.route("/via-gateway", viaGateway);
