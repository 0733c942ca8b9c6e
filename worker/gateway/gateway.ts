import { AppError } from "../errors";
import { extractToken } from "../verify/carriers";
import { type VerifyDeps, verifyToken } from "../verify/core";
import { verifyFailureResponse } from "../verify/envelope";
import { forward, UPSTREAM_HEADERS_TIMEOUT_MS } from "./proxy";
import { resolveUpstream } from "./resolve";
import { decodePath, matchRule } from "./rules";

export interface GatewayRequest {
  request: Request;
  name: string;
  /** The raw path below `/gw/<name>` ("" or starting with "/"). */
  rawPath: string;
  clientIp: string;
}

/**
 * `/gw/<name>/...`: the upstream's rule for the method and path says which permission the token
 * needs (no rule: refused), the verification core decides, and only then is the request forwarded,
 * without its token and with the identity Tessera vouches for. Failures answer the verify JSON.
 */
export async function handleGateway(deps: VerifyDeps, g: GatewayRequest, timeoutMs = UPSTREAM_HEADERS_TIMEOUT_MS): Promise<Response> {
  const upstream = await resolveUpstream(deps, g.name);
  if (!upstream) throw new AppError("not_found", `No upstream is named ${g.name}.`);

  const url = new URL(g.request.url);
  const segments = decodePath(g.rawPath === "" ? "/" : g.rawPath);
  // With projectFromPath the first segment names the project and the rules govern what follows it,
  // so one rule set serves every project: `/gw/<name>/<project>/api/...` is matched as `/api/...`.
  let project: string | null = null;
  if (upstream.projectFromPath) {
    project = segments.shift() ?? "";
    if (project === "") throw new AppError("invalid_request", "This upstream expects a project key as the first path segment.");
  }
  const token = extractToken(g.request.headers, url);
  const rule = matchRule(upstream.rules, g.request.method.toUpperCase(), `/${segments.join("/")}`);

  const outcome = await verifyToken(deps, { token, permissions: rule ? [rule.permission] : [], project: rule ? project : null, clientIp: g.clientIp });
  if (!outcome.ok) return verifyFailureResponse(outcome.code, outcome.message);
  // Authentication failures come first, so a caller without a valid token learns nothing of the rules.
  if (!rule) return verifyFailureResponse("permission_denied", "No rule of this upstream admits this path.");
  if (outcome.token.org.id !== upstream.orgId) {
    return verifyFailureResponse("permission_denied", "This upstream admits only tokens of its own organization.");
  }

  return forward(
    g.request,
    { origin: upstream.origin, rawPath: g.rawPath, search: url.search },
    { tokenId: outcome.token.id, orgSlug: outcome.token.org.slug, kind: outcome.token.kind, clientIp: g.clientIp, publicUrl: url },
    timeoutMs,
  );
}
