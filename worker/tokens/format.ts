import type { TokenKind } from "../db/schema";

// docs/DESIGN.md §2: <prefix><30 random base62><6 base62 of CRC32(prefix + random)>.

export const TOKEN_PREFIXES = { org: "tso_", group: "tsg_", personal: "tsp_" } as const satisfies Record<
  TokenKind,
  string
>;
export const TOKEN_PATTERN = /^ts[ogp]_[0-9A-Za-z]{36}$/;
export const TOKEN_LENGTH = 40;
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// The largest multiple of 62 below 256: bytes at or above it are redrawn so every character is equally likely.
const UNBIASED_BYTE_LIMIT = 248;
const KIND_BY_PREFIX_LETTER: Record<string, TokenKind> = { o: "org", g: "group", p: "personal" };

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(body: string): string {
  let value = crc32(body);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

function randomBase62(length: number): string {
  let out = "";
  const bytes = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      if (byte < UNBIASED_BYTE_LIMIT) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function generateTokenSecret(kind: TokenKind): string {
  const body = TOKEN_PREFIXES[kind] + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

/** The token's kind when the string is well formed and its checksum holds; null otherwise. Pure: no I/O. */
export function parseToken(candidate: string): TokenKind | null {
  if (candidate.length !== TOKEN_LENGTH || !TOKEN_PATTERN.test(candidate)) return null;
  const body = candidate.slice(0, TOKEN_LENGTH - CHECKSUM_LENGTH);
  if (checksum(body) !== candidate.slice(TOKEN_LENGTH - CHECKSUM_LENGTH)) return null;
  return KIND_BY_PREFIX_LETTER[candidate[2]!] ?? null;
}

/** What the console shows in place of the secret: the prefix and the last four characters. */
export function tokenHint(secret: string): string {
  return `${secret.slice(0, 4)}…${secret.slice(-4)}`;
}
