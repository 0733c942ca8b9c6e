import { AppError } from "../errors";
import { log } from "../observability/log";
import { toHex } from "../util/hex";

/** Below this a pepper is too weak to key the token hashes; verification refuses to run (fail closed). */
export const MIN_PEPPER_LENGTH = 32;

const encoder = new TextEncoder();
let cachedKey: { pepper: string; key: Promise<CryptoKey> } | null = null;

function hmacKey(pepper: string): Promise<CryptoKey> {
  if (cachedKey?.pepper !== pepper) {
    const key = crypto.subtle.importKey("raw", encoder.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    cachedKey = { pepper, key };
    // A failed import must not stay cached for the isolate's life: the next call tries again.
    key.catch(() => {
      if (cachedKey?.key === key) cachedKey = null;
    });
  }
  return cachedKey.key;
}

export function assertPepper(pepper: string | undefined): string {
  if (!pepper || pepper.length < MIN_PEPPER_LENGTH) {
    log.error("config.invalid", { setting: "TOKEN_PEPPER", problem: "missing or shorter than 32 characters" });
    throw new AppError("unavailable", "The token service is not configured.");
  }
  return pepper;
}

/** HMAC-SHA256 of the secret under the pepper, as hex: the only form of a token the store ever holds. */
export async function hashToken(pepper: string | undefined, secret: string): Promise<string> {
  const key = await hmacKey(assertPepper(pepper));
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(secret)));
}
