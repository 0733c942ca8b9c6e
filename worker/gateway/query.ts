import { QUERY_CARRIERS } from "../verify/carriers";

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** application/x-www-form-urlencoded name decoding, as `URLSearchParams` (and so `extractToken`) does it. */
function formDecode(raw: string): string {
  if (!raw.includes("%") && !raw.includes("+")) return raw;
  const bytes: number[] = [];
  const text = raw.replace(/\+/g, " ");
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    const hex = text.slice(i + 1, i + 3);
    if (char === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...encoder.encode(char));
    }
  }
  return utf8.decode(new Uint8Array(bytes));
}

const carriers = new Set<string>(QUERY_CARRIERS);

/**
 * The raw query string (`URL.search`, with or without its "?") without the token carrier pairs.
 * Every other pair is kept byte for byte, in order: re-serializing through URLSearchParams would
 * re-encode values an upstream may sign or compare literally.
 */
export function stripCarrierParams(search: string): string {
  const query = search.startsWith("?") ? search.slice(1) : search;
  if (query === "") return "";
  const kept = query.split("&").filter((pair) => {
    const eq = pair.indexOf("=");
    return !carriers.has(formDecode(eq === -1 ? pair : pair.slice(0, eq)));
  });
  return kept.length === 0 ? "" : `?${kept.join("&")}`;
}
