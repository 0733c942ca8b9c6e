import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { verifyDepsOf } from "../http/context";
import { VERIFY_BODY_MAX_BYTES } from "../limits";
import { extractToken } from "../verify/carriers";
import { type VerifyQuery, verifyToken } from "../verify/core";
import { verifyFailureResponse, verifySuccessResponse } from "../verify/envelope";
import { asResourceServer, callerToken } from "../verify/resource-server";

export const verifyBody = z.object({
  permission: z.union([z.string(), z.array(z.string())]).optional(),
  project: z.string().optional(),
  clientIp: z.string().optional(),
});

const BODY_TOKEN_FIELDS = ["token", "session", "access_token"];

async function readBody(req: Request): Promise<z.infer<typeof verifyBody>> {
  const text = await req.text();
  if (text.trim() === "") return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError("invalid_request", 'The body must be JSON: {"permission":[...],"project":"..."}.');
  }
  // The token only ever comes from a carrier: a body naming one is a client mistake worth saying so.
  if (typeof json === "object" && json !== null && BODY_TOKEN_FIELDS.some((field) => Object.hasOwn(json, field))) {
    throw new AppError(
      "invalid_request",
      "Send the token in a carrier (Authorization, X-Api-Key, ?session=), not in the body.",
    );
  }
  const parsed = verifyBody.safeParse(json);
  if (!parsed.success)
    throw new AppError(
      "invalid_request",
      'The body must be {"permission": string | string[], "project": string, "clientIp": string}.',
    );
  return parsed.data;
}

const tooLarge = () => {
  throw new AppError("invalid_request", `The body must be at most ${VERIFY_BODY_MAX_BYTES} bytes.`);
};

export const verifyRoutes = new Hono<AppEnv>().on(
  ["GET", "POST"],
  "/v1/verify",
  bodyLimit({ maxSize: VERIFY_BODY_MAX_BYTES, onError: tooLarge }),
  async (c) => {
    // Hono's parser, not `new URL()` and `searchParams`: about 10 µs less a verification (README, "Benchmarks").
    const params = c.req.queries();
    const permissions = params.permission ?? [];
    const projects = new Set(params.project);
    if (projects.size > 1) throw new AppError("invalid_request", "Two different projects were given.");
    let [project = null] = projects;
    const reportedIps = new Set(params.clientIp);
    if (c.req.method === "POST") {
      const body = await readBody(c.req.raw);
      if (body.clientIp !== undefined) reportedIps.add(body.clientIp);
      if (body.permission !== undefined) permissions.push(...[body.permission].flat());
      if (body.project !== undefined) {
        if (project !== null && project !== body.project)
          throw new AppError("invalid_request", "Two different projects were given.");
        project = body.project;
      }
    }
    if (reportedIps.size > 1) throw new AppError("invalid_request", "Two different clientIp values were given.");
    const [reportedIp] = reportedIps;
    const deps = verifyDepsOf(c);
    const query: VerifyQuery = {
      token: extractToken(c.req.raw.headers, params),
      permissions,
      project,
      clientIp: c.get("clientIp"),
    };
    // An anonymous caller is counted by its own address, whatever clientIp it names (DESIGN.md §3.1).
    const caller = callerToken(c.req.raw.headers);
    if (caller !== null) {
      const server = await asResourceServer(deps, caller, query.clientIp, reportedIp);
      if (!server.ok) return verifyFailureResponse(server.code, server.message);
      query.clientIp = server.clientIp;
      query.resourceServer = server.resourceServer;
    }
    const outcome = await verifyToken(deps, query);
    return outcome.ok ? verifySuccessResponse(outcome.token) : verifyFailureResponse(outcome.code, outcome.message);
  },
);
