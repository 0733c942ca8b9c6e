import type { Context } from "hono";

/**
 * The only `/api` routes that run without a caller: everything else goes through `authenticate`,
 * mounted once for `/api/*` in index.ts, so a new route is closed unless it is named here.
 * Invitation and password-reset secrets travel in the body, never in these paths.
 */
export const PUBLIC_API_ROUTES: readonly (readonly [method: string, path: string])[] = [
  // The OpenAPI document describes routes, never data (docs/DESIGN.md "The OpenAPI document").
  ["GET", "/api/openapi.json"],
  ["GET", "/api/setup"],
  ["POST", "/api/setup"],
  // Log in; log out works with a dead or missing cookie too (it only clears it).
  ["POST", "/api/session"],
  ["DELETE", "/api/session"],
  ["POST", "/api/invitations/preview"],
  ["POST", "/api/invitations/register"],
  ["POST", "/api/password-resets/preview"],
  ["POST", "/api/password-resets/complete"],
];

const PUBLIC = new Set(PUBLIC_API_ROUTES.map(([method, path]) => `${method} ${path}`));

export const isPublicApiRoute = (c: Context): boolean => {
  const path = c.req.path.length > 1 && c.req.path.endsWith("/") ? c.req.path.slice(0, -1) : c.req.path;
  return PUBLIC.has(`${c.req.method} ${path}`);
};
