import { sha256Hex } from "../util/hex";
import { LINK_SECRET_BYTES } from "./limits";

// One-time links (invitations `tsi_`, password resets `tsr_`): a random bearer secret shown once to
// whoever issued it; the store keeps only its SHA-256, so a copy of the database opens nothing.

export type LinkPrefix = "tsi_" | "tsr_";

/** base64url of LINK_SECRET_BYTES random bytes: 43 characters. */
const LINK_SECRET_BODY = /^[A-Za-z0-9_-]{43}$/;

export function newLinkSecret(prefix: LinkPrefix): string {
  const bytes = crypto.getRandomValues(new Uint8Array(LINK_SECRET_BYTES));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return prefix + btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export const isLinkSecret = (prefix: LinkPrefix, value: string) =>
  value.startsWith(prefix) && LINK_SECRET_BODY.test(value.slice(prefix.length));

/** What the store holds and looks a secret up by. */
export const linkSecretHash = (secret: string) => sha256Hex(secret);
