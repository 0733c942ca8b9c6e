import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { SESSION_COOKIE } from "../accounts/limits";

export const readSessionCookie = (c: Context): string | undefined => getCookie(c, SESSION_COOKIE);

/**
 * HttpOnly (no script reads it), Secure, SameSite=Strict (no cross-site request carries it), and
 * host-locked by its `__Host-` name: Path=/ and no Domain, or the browser refuses it.
 */
export function setSessionCookie(c: Context, value: string, expiresAt: number, now: number): void {
  setCookie(c, SESSION_COOKIE, value, {
    path: "/",
    httpOnly: true,
    secure: true,
    sameSite: "Strict",
    maxAge: Math.max(0, Math.floor((expiresAt - now) / 1000)),
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/", httpOnly: true, secure: true, sameSite: "Strict" });
}
