import { WorkerEntrypoint } from "cloudflare:workers";
import { VERIFY_CODES } from "./errors";
import { verifyDeps } from "./http/context";
import { type VerifyQuery, verifyToken } from "./verify/core";
import { type VerifyFailureBody, type VerifySuccessBody, verifyFailureBody } from "./verify/envelope";

export interface RpcVerifyOptions {
  permission?: string | string[];
  project?: string;
  /** The end client's address, for the unknown-token limiter; defaults to the calling Worker. */
  clientIp?: string;
}

export type RpcVerifyResult = (VerifySuccessBody | VerifyFailureBody) & { status: number };

const SERVICE_BINDING_CLIENT = "service-binding";

/**
 * RPC callers are other teams' Workers, not typed at runtime: anything that is not the documented shape
 * is an `invalid_request` answer, as a malformed `/v1/verify` body is, never a thrown TypeError.
 */
function readOptions(options: unknown): Omit<VerifyQuery, "token"> | null {
  if (options === undefined || options === null)
    return { permissions: [], project: null, clientIp: SERVICE_BINDING_CLIENT };
  if (typeof options !== "object" || Array.isArray(options)) return null;
  const { permission, project, clientIp } = options as Record<string, unknown>;
  const permissions = permission === undefined ? [] : [permission].flat();
  if (!permissions.every((p): p is string => typeof p === "string")) return null;
  if (project !== undefined && typeof project !== "string") return null;
  if (clientIp !== undefined && typeof clientIp !== "string") return null;
  return { permissions, project: project ?? null, clientIp: clientIp || SERVICE_BINDING_CLIENT };
}

/**
 * Service-binding entrypoint: downstream Workers bound with `entrypoint = "TesseraRpc"` call
 * `env.TESSERA.verify(token, {...})` and get the verify JSON with its HTTP status, with no HTTP hop.
 */
export class TesseraRpc extends WorkerEntrypoint<Env> {
  async verify(token: string | null | undefined, options: RpcVerifyOptions = {}): Promise<RpcVerifyResult> {
    const query = readOptions(options);
    const outcome =
      query === null || (token !== null && token !== undefined && typeof token !== "string")
        ? ({
            ok: false,
            code: "invalid_request",
            message: "verify(token: string, { permission?: string | string[], project?: string, clientIp?: string }).",
          } as const)
        : await verifyToken(
            verifyDeps(this.env, (p) => this.ctx.waitUntil(p)),
            { ...query, token: token === "" || token === undefined ? null : token },
          );
    if (outcome.ok) return { result: 0, valid: true, token: outcome.token, status: 200 };
    return { ...verifyFailureBody(outcome.code, outcome.message), status: VERIFY_CODES[outcome.code].status };
  }
}
