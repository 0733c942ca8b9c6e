import { AppError } from "../errors";
import { extractToken, queryParams } from "../verify/carriers";
import { type VerifyDeps, verifyToken } from "../verify/core";
import { verifyFailureResponse } from "../verify/envelope";
import { forward, UPSTREAM_HEADERS_TIMEOUT_MS, upstreamUrl } from "./proxy";
import { resolveUpstream } from "./resolve";
import { decodePath, requiredPermissions } from "./rules";
import { signatureHeader } from "./signature";

export interface GatewayRequest {
  request: Request;
  name: string;
  /** The raw path below `/gw/<name>` ("" or starting with "/"). */
  rawPath: string;
  clientIp: string;
}

/**
 * The one answer for a name that is not an upstream of the caller's organization, whether nobody has
 * it or another organization does: names, rules and project segments of other tenants stay invisible.
 */
export const NO_SUCH_UPSTREAM = "This organization has no upstream of this name.";

/**
 * `/gw/<name>/...`: the token is authenticated first (a caller without a valid one learns nothing
 * of upstreams and costs no upstream lookup), the name must be an upstream of the token's
 * organization, its rule for the method and path says which permission the token needs (no rule:
 * refused), the verification core decides, and only then is the request forwarded, without its
 * token and with the identity Tessera vouches for. Failures answer the verify JSON.
 */
export async function handleGateway(
  deps: VerifyDeps,
  g: GatewayRequest,
  timeoutMs = UPSTREAM_HEADERS_TIMEOUT_MS,
): Promise<Response> {
  const url = new URL(g.request.url);
  const token = extractToken(g.request.headers, queryParams(g.request.url));
  const caller = await verifyToken(deps, { token, permissions: [], project: null, clientIp: g.clientIp });
  if (!caller.ok) return verifyFailureResponse(caller.code, caller.message);

  const upstream = await resolveUpstream(deps, g.name, g.clientIp);
  if (!upstream || upstream.orgId !== caller.token.org.id)
    return verifyFailureResponse("permission_denied", NO_SUCH_UPSTREAM);

  const segments = decodePath(g.rawPath === "" ? "/" : g.rawPath);
  // With projectFromPath the first segment names the project and the rules govern what follows it,
  // so one rule set serves every project: `/gw/<name>/<project>/api/...` is matched as `/api/...`.
  let project: string | null = null;
  if (upstream.projectFromPath) {
    project = segments.shift() ?? "";
    if (project === "")
      throw new AppError("invalid_request", "This upstream expects a project key as the first path segment.");
  }
  const permissions = requiredPermissions(upstream.rules, g.request.method.toUpperCase(), `/${segments.join("/")}`);
  if (!permissions) return verifyFailureResponse("permission_denied", "No rule of this upstream admits this path.");

  // The second call is answered by the isolate's memory tier the first one filled.
  const outcome = await verifyToken(deps, { token, permissions, project, clientIp: g.clientIp });
  if (!outcome.ok) return verifyFailureResponse(outcome.code, outcome.message);

  // Unsigned requests would be refused by an upstream that checks, and pass one that does not: neither is wanted.
  if (!upstream.signingSecret)
    throw new AppError("unavailable", "This upstream has no signing secret; an organization admin must rotate it.");
  const target = { origin: upstream.origin, rawPath: g.rawPath, search: url.search };
  const signed = {
    method: g.request.method.toUpperCase(),
    path: new URL(upstreamUrl(target)).pathname,
    tokenId: outcome.token.id,
    org: outcome.token.org.slug,
  };
  return forward(
    g.request,
    target,
    {
      tokenId: outcome.token.id,
      orgSlug: outcome.token.org.slug,
      kind: outcome.token.kind,
      clientIp: g.clientIp,
      publicUrl: url,
      signature: await signatureHeader(upstream.signingSecret, signed, deps.now()),
      oldSecretUntil: outcome.token.rotation?.until,
    },
    timeoutMs,
  );
}
