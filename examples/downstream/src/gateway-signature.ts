// The check for an API behind Tessera's gateway (`/gw/<name>/...`). Self-contained: copy this file
// into your Worker; `checkTesseraSignature` alone needs nothing but WebCrypto (Workers, Node 20+,
// Deno, Bun). Tessera signs every request it forwards with the upstream's signing secret:
//
//   X-Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t.METHOD.path.tokenId.org)>
//
// so a request that passes came through this API's own gateway entry, for the token and
// organization its X-Tessera-Token-Id and X-Tessera-Org headers name, within the last 5 minutes.
import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";

/** How far `t` may be from this server's clock, either way: bounds replays and tolerates clock skew. */
export const SIGNATURE_TOLERANCE_S = 300;

/** Who Tessera vouches for, once the signature holds. */
export interface GatewayCaller {
  tokenId: string;
  org: string;
  kind: string | null;
}

export type SignatureCheck = { ok: true; caller: GatewayCaller } | { ok: false; reason: string };

const encoder = new TextEncoder();
const HMAC_SHA256 = { name: "HMAC", hash: "SHA-256" };
const refused = (reason: string): SignatureCheck => ({ ok: false, reason });

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

// Every byte is compared whatever the earlier ones were, so the time taken says nothing about
// how much of a forged signature was right.
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * Checks `X-Tessera-Signature` against `secret` (the `tus_...` string the upstream's creation or
 * rotation showed, used whole as the HMAC key). `path` is the path this server received, without the
 * query: `new URL(request.url).pathname`, base path included.
 */
export async function checkTesseraSignature(
  request: Request,
  secret: string,
  nowMs = Date.now(),
): Promise<SignatureCheck> {
  const header = request.headers.get("x-tessera-signature");
  const tokenId = request.headers.get("x-tessera-token-id");
  const org = request.headers.get("x-tessera-org");
  if (!header || !tokenId || !org) return refused("The request was not forwarded by Tessera.");

  const fields = new Map<string, string[]>();
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim();
    fields.set(key, [...(fields.get(key) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = fields.get("t")?.[0] ?? "";
  const signatures = (fields.get("v1") ?? []).filter((v) => /^[0-9a-f]{64}$/.test(v));
  if (!/^\d{1,12}$/.test(t) || signatures.length === 0) return refused("The signature header is malformed.");
  if (Math.abs(nowMs / 1000 - Number(t)) > SIGNATURE_TOLERANCE_S) return refused("The signature is too old.");

  const path = new URL(request.url).pathname;
  const payload = `${t}.${request.method.toUpperCase()}.${path}.${tokenId}.${org}`;
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), HMAC_SHA256, false, ["sign"]);
  const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(payload)));
  const matches = signatures.some((v1) => constantTimeEqual(fromHex(v1), expected));
  if (!matches) return refused("The signature does not match.");
  return { ok: true, caller: { tokenId, org, kind: request.headers.get("x-tessera-kind") } };
}

export type SignedEnv = { Bindings: { TESSERA_SIGNING_SECRET: string }; Variables: { caller: GatewayCaller } };

/**
 * `app.use(signedByTessera())`: the handlers run only for requests Tessera signed with the secret in
 * the `TESSERA_SIGNING_SECRET` secret (`wrangler secret put TESSERA_SIGNING_SECRET`), and find the
 * caller in `c.var.caller`. Anything else is refused with 401 before the handler runs.
 */
export function signedByTessera<E extends SignedEnv = SignedEnv>(): MiddlewareHandler<E> {
  return createMiddleware<E>(async (c, next) => {
    const check = await checkTesseraSignature(c.req.raw, c.env.TESSERA_SIGNING_SECRET);
    if (!check.ok)
      return c.json({ error: "bad_signature", message: check.reason }, 401, { "Cache-Control": "no-store" });
    c.set("caller", check.caller);
    await next();
  });
}
