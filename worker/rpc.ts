import { WorkerEntrypoint } from "cloudflare:workers";
import { systemClock } from "./clock";
import { VERIFY_CODES } from "./errors";
import { verifyToken } from "./verify/core";
import { type VerifyFailureBody, type VerifySuccessBody, verifyFailureBody } from "./verify/envelope";

export interface RpcVerifyOptions {
  permission?: string | string[];
  project?: string;
  /** The end client's address, for the unknown-token limiter; defaults to the calling Worker. */
  clientIp?: string;
}

export type RpcVerifyResult = (VerifySuccessBody | VerifyFailureBody) & { status: number };

/**
 * Service-binding entrypoint: downstream Workers bound with `entrypoint = "TesseraRpc"` call
 * `env.TESSERA.verify(token, {...})` and get the verify JSON with its HTTP status, with no HTTP hop.
 */
export class TesseraRpc extends WorkerEntrypoint<Env> {
  async verify(token: string | null | undefined, options: RpcVerifyOptions = {}): Promise<RpcVerifyResult> {
    const outcome = await verifyToken(
      { env: this.env, waitUntil: (p) => this.ctx.waitUntil(p), now: systemClock },
      {
        token: typeof token === "string" && token !== "" ? token : null,
        permissions: options.permission === undefined ? [] : [options.permission].flat().map(String),
        project: typeof options.project === "string" ? options.project : null,
        clientIp: typeof options.clientIp === "string" ? options.clientIp : "service-binding",
      },
    );
    if (outcome.ok) return { result: 0, valid: true, token: outcome.token, status: 200 };
    return { ...verifyFailureBody(outcome.code, outcome.message), status: VERIFY_CODES[outcome.code].status };
  }
}
