import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { findSession, touchDue, touchSession } from "../accounts/sessions";
import type { Actor } from "../audit/events";
import type { AppEnv } from "../env";
import { AppError, asManagementCode } from "../errors";
import { accessDbOf, nowOf, verifyDepsOf } from "../http/context";
import { twoFactorPolicyOf } from "../orgs/two-factor-policy";
import { extractToken, QUERY_CARRIERS } from "../verify/carriers";
import { verifyTokenEntry } from "../verify/core";
import { type Access, accessIn, findOrgBySlug } from "./access";
import type { Caller, TokenCaller, UserCaller } from "./caller";
import { clearSessionCookie, readSessionCookie } from "./cookie";
import type { ManagementPermission } from "./management-permissions";

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * CSRF defence for cookie callers: an unsafe request must say it comes from this very origin.
 * SameSite=Strict already keeps the cookie off cross-site requests; this covers same-site
 * siblings and browsers that ignore SameSite.
 */
export function assertSameOrigin(c: Context, required: boolean): void {
  if (!UNSAFE_METHODS.has(c.req.method)) return;
  const origin = c.req.header("origin");
  if (origin === undefined && !required) return;
  if (origin !== new URL(c.req.url).origin) {
    throw new AppError("forbidden", "Cross-origin request refused: send an Origin header equal to this site's origin.");
  }
}

/** A token from the header carriers only: a management credential never travels in a URL. */
function headerToken(c: Context): string | null {
  const url = new URL(c.req.url);
  let token: string | null;
  try {
    token = extractToken(c.req.raw.headers, {});
  } catch (err) {
    if (err instanceof AppError) throw new AppError("unauthenticated", err.message);
    throw err;
  }
  if (token === null && QUERY_CARRIERS.some((name) => url.searchParams.has(name))) {
    throw new AppError(
      "unauthenticated",
      "The management API does not accept tokens in the URL; send Authorization: Bearer <token>.",
    );
  }
  return token;
}

async function tokenCaller(c: Context<AppEnv>, token: string): Promise<TokenCaller> {
  const { outcome, token: entry } = await verifyTokenEntry(verifyDepsOf(c), {
    token,
    permissions: [],
    project: null,
    clientIp: c.get("clientIp"),
  });
  if (!outcome.ok) throw new AppError(asManagementCode(outcome.code), outcome.message);
  const t = outcome.token;
  if (!t.admin)
    throw new AppError(
      "forbidden",
      "This token does not have the admin role; only admin tokens can use the management API.",
    );
  return {
    type: "token",
    tokenId: t.id,
    kind: t.kind,
    orgId: t.org.id,
    groupId: t.group?.id ?? null,
    userId: t.user?.id ?? null,
    permissions: t.permissions,
    projects: t.projects,
    expiresAt: t.expiresAt === null ? null : Date.parse(t.expiresAt),
    allowedIps: entry?.allowedIps ?? null,
  };
}

/**
 * Every `/api` route but those in PUBLIC_API_ROUTES (mounted once in index.ts): an admin token
 * from a header carrier, or the session cookie (with the Origin check on unsafe methods). Sets
 * `caller`; 401 otherwise.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  if ((c.get("caller") as Caller | undefined) !== undefined) return next();
  const token = headerToken(c);
  if (token !== null) {
    c.set("caller", await tokenCaller(c, token));
    return next();
  }
  const cookie = readSessionCookie(c);
  if (cookie === undefined)
    throw new AppError("unauthenticated", "Log in first, or send an admin token as Authorization: Bearer <token>.");
  const now = nowOf(c);
  const db = accessDbOf(c);
  const session = await findSession(db, cookie, now);
  if (!session) {
    clearSessionCookie(c);
    throw new AppError("unauthenticated", "Your session has ended; log in again.");
  }
  assertSameOrigin(c, true);
  if (touchDue(session, now)) await touchSession(db, session.id, now);
  c.set("caller", {
    type: "user",
    userId: session.userId,
    email: session.email,
    isOwner: session.isOwner,
    sessionId: session.id,
    sudoUntil: session.sudoUntil,
    twoFactor: session.twoFactor,
  });
  await next();
});

export type AccessLevel = "member" | "group_admin" | "admin";

/**
 * For routes with `:org` (slug): loads `org` and `access`. 404 when the organization does not exist
 * or the caller has no rights there (a stranger cannot tell the two apart); 403 below `min`.
 * "group_admin" admits org admins and admins of at least one group; "admin" means organization admin.
 * `needs` is the management permission a token caller must hold for the route ("none" for the
 * organization's structure reads every admin token needs); people are judged by their role alone.
 */
export const orgAccess = (min: AccessLevel, needs: ManagementPermission | "none") =>
  createMiddleware<AppEnv>(async (c, next) => {
    const slug = c.req.param("org");
    const db = accessDbOf(c);
    const org = slug ? await findOrgBySlug(db, slug) : null;
    const access = org ? await accessIn(db, c.get("caller"), org) : null;
    if (!org || !access) throw new AppError("not_found", "No such organization.");
    await assertTwoFactorPolicy(c, org.id, access);
    const enough =
      min === "member"
        ? true
        : min === "group_admin"
          ? access.orgAdmin || access.adminGroupIds.length > 0
          : access.orgAdmin;
    if (!enough) {
      throw new AppError(
        "forbidden",
        min === "admin" ? "This needs the organization admin role." : "This needs an admin role in the organization.",
      );
    }
    const caller = c.get("caller");
    if (needs !== "none" && caller.type === "token" && !caller.permissions.includes(needs)) {
      throw new AppError("forbidden", `This token does not hold ${needs}, which this needs.`);
    }
    c.set("org", org);
    c.set("access", access);
    await next();
  });

/**
 * An admin (of the organization or of one of its groups) signed in without a second factor, in an
 * organization that requires one: refused on all of its management API, and their personal tokens
 * there gain nothing (worker/routes/api/me-tokens.ts). Only such callers pay the read.
 */
export async function assertTwoFactorPolicy(c: Context<AppEnv>, orgId: string, access: Access): Promise<void> {
  const caller = c.get("caller");
  if (caller.type !== "user" || caller.twoFactor || (!access.orgAdmin && access.adminGroupIds.length === 0)) return;
  if (!(await twoFactorPolicyOf(accessDbOf(c), orgId)).requiredForAdmins) return;
  throw new AppError(
    "two_factor_required",
    "This organization requires its admins to sign in with two factors: turn on two-factor sign-in on your account page (/account).",
  );
}

/** For a route that needs sudo only for some bodies; `requireSudo` is the usual form. */
export function assertSudo(c: Context<AppEnv>): void {
  const caller = c.get("caller");
  if (caller.type === "user" && !(caller.sudoUntil !== null && nowOf(c) < caller.sudoUntil)) {
    throw new AppError(
      "sudo_required",
      "Confirm your password first (POST /api/session/confirm); a confirmation lasts 5 minutes.",
    );
  }
}

/** Cookie callers must have confirmed their password within the sudo window; admin tokens pass. */
export const requireSudo = createMiddleware<AppEnv>(async (c, next) => {
  assertSudo(c);
  await next();
});

/** Only the instance owner. */
export const ownerOnly = createMiddleware<AppEnv>(async (c, next) => {
  const caller = c.get("caller");
  if (caller.type !== "user" || !caller.isOwner)
    throw new AppError("forbidden", "Only the instance owner can do this.");
  await next();
});

/** Routes about the signed-in person (their password, their personal tokens): console users only. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("caller").type !== "user")
    throw new AppError("forbidden", "This is for console users; admin tokens cannot use it.");
  await next();
});

/** The caller as a user; only after `requireUser`. */
export function userOf(c: Context<AppEnv>): UserCaller {
  const caller = c.get("caller");
  if (caller.type !== "user") throw new AppError("forbidden", "This is for console users; admin tokens cannot use it.");
  return caller;
}

/** Who did it, for audit events. */
export function actorOf(c: Context<AppEnv>): Actor {
  const caller = c.get("caller");
  const ip = c.get("clientIp") ?? null;
  return caller.type === "user" ? { type: "user", id: caller.userId, ip } : { type: "token", id: caller.tokenId, ip };
}

/** For routes without a session yet (setup, login): a browser's Origin, when sent, must be ours. */
export const sameOriginIfSent = createMiddleware<AppEnv>(async (c, next) => {
  assertSameOrigin(c, false);
  await next();
});
