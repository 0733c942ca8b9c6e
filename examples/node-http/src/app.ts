// The API of examples/node-http: the same routes as examples/downstream, checked by Tessera over HTTP.
import { Hono } from "hono";
import { type TesseraHttpEnv, type TesseraHttpOptions, tesseraHttp } from "./tessera";

/** Where Tessera is and how to reach it; `permission` and `project` are per route below. */
export type TesseraConnection = Omit<TesseraHttpOptions, "permission" | "project">;

export function createApp(tessera: TesseraConnection) {
  return (
    new Hono<TesseraHttpEnv>()
      // Public: no token asked.
      .get("/health", (c) => c.text("ok"))
      // Any valid token: who is calling.
      .get("/whoami", tesseraHttp(tessera), (c) => c.json({ token: c.var.tessera }))
      // A permission on a project named in the path.
      .get(
        "/projects/:project/analyses",
        tesseraHttp({ ...tessera, permission: "analysis:read", project: (c) => c.req.param("project") }),
        (c) => c.json({ project: c.req.param("project"), analyses: [], readBy: c.var.tessera.id }),
      )
  );
}
