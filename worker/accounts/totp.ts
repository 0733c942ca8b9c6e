import { TOTP_DIGITS, TOTP_DRIFT_STEPS, TOTP_STEP_S } from "./limits";

// RFC 6238 time-based one-time passwords with HMAC-SHA-1 (RFC 4226's HOTP at a time step), and the
// RFC 4648 base32 authenticator apps read secrets in. WebCrypto only: no library.

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** Base32 without padding, case and spaces ignored; null when a character is not base32. */
export function base32Decode(text: string): Uint8Array | null {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const i = B32.indexOf(ch);
    if (i < 0) return null;
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

/** The time step `at` (epoch ms) falls in. */
export const stepAt = (at: number) => Math.floor(at / 1000 / TOTP_STEP_S);

/** The HOTP value of `secret` at `step`, `digits` long (RFC 4226 §5.3 dynamic truncation). */
export async function totpAt(secret: Uint8Array, step: number, digits = TOTP_DIGITS): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const counter = new DataView(new ArrayBuffer(8));
  counter.setUint32(0, Math.floor(step / 2 ** 32));
  counter.setUint32(4, step >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, counter.buffer));
  const offset = mac[mac.length - 1]! & 0xf;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return (binary % 10 ** digits).toString().padStart(digits, "0");
}

/** Compares every character whatever the first difference, so timing tells nothing about the code. */
function sameCode(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The step, within the drift window around `now` and after `lastStep`, whose code `code` is; null when
 * none. Steps at or before `lastStep` were used already: a code is accepted once (RFC 6238 §5.2).
 */
export async function matchStep(
  secret: Uint8Array,
  code: string,
  now: number,
  lastStep: number,
): Promise<number | null> {
  const current = stepAt(now);
  let found: number | null = null;
  for (let step = current - TOTP_DRIFT_STEPS; step <= current + TOTP_DRIFT_STEPS; step++) {
    if (step <= lastStep) continue;
    if (sameCode(await totpAt(secret, step), code) && found === null) found = step;
  }
  return found;
}

/** What an authenticator app scans or opens (Key Uri Format): the account's email under the issuer "Tessera". */
export function otpauthUri(secretB32: string, account: string, issuer = "Tessera"): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = new URLSearchParams({
    secret: secretB32,
    issuer,
    algorithm: "SHA1",
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_S),
  });
  return `otpauth://totp/${label}?${params}`;
}
