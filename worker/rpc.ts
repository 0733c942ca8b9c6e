import { WorkerEntrypoint } from "cloudflare:workers";
import { VERIFY_CODES } from "./errors";
import { verifyDeps } from "./http/context";
import { loggerFor } from "./observability/log";
import { type VerifyDeps, type VerifyOutcome, type VerifyQuery, verifyToken } from "./verify/core";
import { type VerifyFailureBody, type VerifySuccessBody, verifyFailureBody } from "./verify/envelope";
import { asResourceServer } from "./verify/resource-server";

export interface RpcVerifyOptions {
  permission?: string | string[];
  project?: string;
  /** The end client's address, for the unknown-token limiter and the token's last addresses; defaults to the calling Worker. */
  clientIp?: string;
  /**
   * The calling Worker's own token (an admin token or one holding tokens:introspect): unknown tokens are
   * then counted per end client under the resource server's higher cap (worker/verify/resource-server.ts).
   */
  caller?: string;
}

export type RpcVerifyResult = (VerifySuccessBody | VerifyFailureBody) & { status: number };

const SERVICE_BINDING_CLIENT = "service-binding";
const USAGE =
  "verify(token: string, { permission?: string | string[], project?: string, clientIp?: string, caller?: string }).";

/**
 * RPC callers are other teams' Workers, not typed at runtime: anything that is not the documented shape
 * is an `invalid_request` answer, as a malformed `/v1/verify` body is, never a thrown TypeError.
 */
function readOptions(options: unknown): (Omit<VerifyQuery, "token"> & { caller?: string }) | null {
  if (options === undefined || options === null)
    return { permissions: [], project: null, clientIp: SERVICE_BINDING_CLIENT };
  if (typeof options !== "object" || Array.isArray(options)) return null;
  const { permission, project, clientIp, caller } = options as Record<string, unknown>;
  const permissions = permission === undefined ? [] : [permission].flat();
  if (!permissions.every((p): p is string => typeof p === "string")) return null;
  if (project !== undefined && typeof project !== "string") return null;
  if (clientIp !== undefined && typeof clientIp !== "string") return null;
  if (caller !== undefined && typeof caller !== "string") return null;
  // Unless `caller` authenticates it, a named address is the calling Worker's claim (worker/verify/core.ts).
  return {
    permissions,
    project: project ?? null,
    clientIp: clientIp || SERVICE_BINDING_CLIENT,
    clientIpUnverified: !!clientIp,
    caller,
  };
}

// Not a method: every method of the entrypoint is callable over RPC.
async function judge(deps: VerifyDeps, token: unknown, options: unknown): Promise<VerifyOutcome> {
  const read = readOptions(options);
  if (read === null || (token !== null && token !== undefined && typeof token !== "string"))
    return { ok: false, code: "invalid_request", message: USAGE };
  const { caller, ...query } = read;
  if (caller) {
    // The calling Worker connects from no address of its own: its token is counted as the binding's.
    const reported = (options as RpcVerifyOptions).clientIp || undefined;
    const server = await asResourceServer(deps, caller, SERVICE_BINDING_CLIENT, reported);
    if (!server.ok) return server;
    query.clientIp = server.clientIp;
    query.clientIpUnverified = false;
    query.resourceServer = server.resourceServer;
  }
  return verifyToken(deps, { ...query, token: token === "" || token === undefined ? null : (token as string) });
}

/**
 * Service-binding entrypoint: downstream Workers bound with `entrypoint = "TesseraRpc"` call
 * `env.TESSERA.verify(token, {...})` and get the verify JSON with its HTTP status, with no HTTP hop.
 */
export class TesseraRpc extends WorkerEntrypoint<Env> {
  async verify(token: string | null | undefined, options: RpcVerifyOptions = {}): Promise<RpcVerifyResult> {
    // A service-binding call has no cf-ray: its log lines share an id made up for the call, on first use.
    let requestId: string | undefined;
    const deps = {
      ...verifyDeps(this.env, (p) => this.ctx.waitUntil(p)),
      log: loggerFor(() => (requestId ??= crypto.randomUUID())),
    };
    const outcome = await judge(deps, token, options);
    if (outcome.ok) return { result: 0, valid: true, token: outcome.token, status: 200 };
    return { ...verifyFailureBody(outcome.code, outcome.message), status: VERIFY_CODES[outcome.code].status };
  }
}
