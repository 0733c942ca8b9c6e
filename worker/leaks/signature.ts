// GitHub's secret-scanning partner program signs each report: `Github-Public-Key-Identifier` names
// one of its published ECDSA P-256 keys, `Github-Public-Key-Signature` is the base64 DER signature
// (SHA-256) over the raw body. The keys are configured, as published at
// https://api.github.com/meta/public_keys/secret_scanning, in the LEAK_REPORT_PUBLIC_KEYS variable.

import { log } from "../observability/log";
import { errorKind } from "../util/error-kind";

export const SIGNATURE_HEADERS = {
  keyId: "github-public-key-identifier",
  signature: "github-public-key-signature",
} as const;

export interface ReportingKey {
  key_identifier: string;
  /** PEM ("-----BEGIN PUBLIC KEY-----") or bare base64 of the SPKI DER. */
  key: string;
}

const P256_COORDINATE_BYTES = 32;

function isKey(value: unknown): value is ReportingKey {
  const v = value as Partial<ReportingKey> | null;
  return typeof v === "object" && v !== null && typeof v.key_identifier === "string" && typeof v.key === "string";
}

/**
 * The configured keys: a JSON array of `{key_identifier, key}`, or GitHub's own answer
 * `{"public_keys": [...]}` pasted as it is. Anything unreadable counts as no keys (every report refused).
 */
export function readReportingKeys(raw: string | undefined): ReportingKey[] {
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    log.error("config.invalid", { setting: "LEAK_REPORT_PUBLIC_KEYS", problem: "not JSON; leak reports are refused" });
    return [];
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { public_keys?: unknown } | null)?.public_keys;
  return Array.isArray(list) ? list.filter(isKey) : [];
}

function base64Bytes(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function spkiFromKey(key: string): Uint8Array | null {
  return base64Bytes(key.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, ""));
}

/** One DER INTEGER as a fixed-width big-endian coordinate, or null when it is not one. */
function readInteger(der: Uint8Array, at: number): { value: Uint8Array; next: number } | null {
  if (der[at] !== 0x02) return null;
  const length = der[at + 1];
  if (length === undefined || length === 0 || length > P256_COORDINATE_BYTES + 1) return null;
  let bytes = der.subarray(at + 2, at + 2 + length);
  if (bytes.length !== length) return null;
  while (bytes.length > P256_COORDINATE_BYTES && bytes[0] === 0) bytes = bytes.subarray(1);
  if (bytes.length > P256_COORDINATE_BYTES) return null;
  const value = new Uint8Array(P256_COORDINATE_BYTES);
  value.set(bytes, P256_COORDINATE_BYTES - bytes.length);
  return { value, next: at + 2 + length };
}

/** DER `SEQUENCE { r INTEGER, s INTEGER }` to the r||s form WebCrypto verifies. */
export function derToP1363(der: Uint8Array): Uint8Array | null {
  if (der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const r = readInteger(der, 2);
  const s = r && readInteger(der, r.next);
  if (!r || !s || s.next !== der.length) return null;
  const raw = new Uint8Array(2 * P256_COORDINATE_BYTES);
  raw.set(r.value, 0);
  raw.set(s.value, P256_COORDINATE_BYTES);
  return raw;
}

/** True only when the named configured key signed exactly these bytes. */
export async function verifyReportSignature(
  keys: ReportingKey[],
  keyId: string | null,
  signature: string | null,
  body: Uint8Array,
): Promise<boolean> {
  if (!keyId || !signature) return false;
  const configured = keys.find((k) => k.key_identifier === keyId);
  const spki = configured && spkiFromKey(configured.key);
  const der = base64Bytes(signature);
  const raw = der && derToP1363(der);
  if (!spki || !raw) return false;
  try {
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, body);
  } catch (err) {
    log.error("leak.key_unusable", { keyId, error: errorKind(err) });
    return false;
  }
}
