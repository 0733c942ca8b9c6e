import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import worker from "../../worker/index";
import type { VerifyFailureBody, VerifySuccessBody } from "../../worker/verify/envelope";

export const ORIGIN = "https://tessera.test";

export type VerifyBody = VerifySuccessBody | VerifyFailureBody;

export interface VerifyParams {
  session?: string;
  accessToken?: string;
  permission?: string[];
  project?: string;
}

/** `/v1/verify` with the given query; the token goes in `?session=` unless another carrier is wanted. */
export function verifyUrl(params: VerifyParams = {}): string {
  const query = new URLSearchParams();
  if (params.session !== undefined) query.set("session", params.session);
  if (params.accessToken !== undefined) query.set("access_token", params.accessToken);
  for (const p of params.permission ?? []) query.append("permission", p);
  if (params.project !== undefined) query.set("project", params.project);
  const qs = query.toString();
  return `${ORIGIN}/v1/verify${qs ? `?${qs}` : ""}`;
}

/** Through the worker's own entrypoint, as a caller sees it. */
export function viaEntrypoint(input: string | Request, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(input, init);
}

/**
 * Through the worker's fetch handler with the given bindings (counting or failing ones), waiting for
 * its `waitUntil` work (cache fills, usage writes) so that a test sees every call it caused.
 */
export async function viaHandler(
  request: Request | string,
  bindings: Env = env,
  init?: RequestInit,
): Promise<Response> {
  const ctx = createExecutionContext();
  const req = typeof request === "string" ? new Request(request, init) : request;
  const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export async function readVerify(res: Response): Promise<VerifyBody> {
  return res.json<VerifyBody>();
}

/** A header-carried verify request from one client address. */
export function bearer(token: string, ip = "198.51.100.7", url = verifyUrl()): Request {
  return new Request(url, { headers: { Authorization: `Bearer ${token}`, "CF-Connecting-IP": ip } });
}
