// Digests as lowercase hex: token hashes, session and link hashes, upstream signatures.

const encoder = new TextEncoder();

// Every verification hashes once; a table lookup per byte keeps that off the profile.
const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  let hex = "";
  for (const byte of bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)) hex += HEX_BYTES[byte];
  return hex;
}

/** SHA-256 as hex, for values that need no key (session cookies, one-time links, leak reports). */
export async function sha256Hex(value: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** HMAC-SHA256 as hex, keyed with the UTF-8 bytes of `secret` (upstream signatures). */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}
