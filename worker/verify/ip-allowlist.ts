/*
 * A token's IP allowlist (docs/DESIGN.md §2, §3): IPv4 and IPv6 CIDR ranges. Written here rather than
 * taken from a library: the matcher is a few dozen lines of pure code, and the worker keeps no runtime
 * dependency beyond its framework, validator and ORM. Every address is held as 128 bits in four
 * unsigned 32-bit words, IPv4 as its v4-mapped IPv6 form (::ffff:a.b.c.d), so a v4 range matches a
 * client that arrives as v4-mapped IPv6 too.
 */

type Words = [number, number, number, number];

/** A range ready to match: network and mask, word by word. */
export interface IpRange {
  net: Words;
  mask: Words;
}

const V4_MAPPED_PREFIX = 96;
const DEC_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const part of parts) {
    // Leading zeros are refused: some parsers read them as octal, so "010" would mean two things.
    if (!DEC_OCTET.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

/** Colon-separated hex groups, the last one may be a dotted IPv4 tail when `tail` allows it. */
function parseGroups(text: string, tail: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseV4(part);
      if (v4 === null) return null;
      groups.push(v4 >>> 16, v4 & 0xffff);
    } else if (HEX_GROUP.test(part)) groups.push(Number.parseInt(part, 16));
    else return null;
  }
  return groups;
}

function parseV6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  if (halves.length === 1) {
    const groups = parseGroups(text, true);
    return groups && groups.length === 8 ? groups : null;
  }
  const head = parseGroups(halves[0]!, false);
  const tail = parseGroups(halves[1]!, true);
  if (!head || !tail || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

const wordsOfGroups = (g: number[]): Words => [
  ((g[0]! << 16) | g[1]!) >>> 0,
  ((g[2]! << 16) | g[3]!) >>> 0,
  ((g[4]! << 16) | g[5]!) >>> 0,
  ((g[6]! << 16) | g[7]!) >>> 0,
];

/** An address as 128 bits; null for anything that is not one (a zone index or brackets are dropped). */
export function parseAddress(text: string): { words: Words; v4: boolean } | null {
  let address = text.trim();
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  const zone = address.indexOf("%");
  if (zone !== -1) address = address.slice(0, zone);
  if (!address.includes(":")) {
    const v4 = parseV4(address);
    return v4 === null ? null : { words: [0, 0, 0xffff, v4], v4: true };
  }
  const groups = parseV6(address);
  return groups ? { words: wordsOfGroups(groups), v4: false } : null;
}

function maskOf(prefix: number): Words {
  const word = (i: number) => {
    const bits = Math.min(32, Math.max(0, prefix - 32 * i));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  return [word(0), word(1), word(2), word(3)];
}

const isV4Mapped = (w: Words) => w[0] === 0 && w[1] === 0 && w[2] === 0xffff;

/** RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups (the first of equals) as "::". */
function formatV6(w: Words): string {
  const groups = w.flatMap((x) => [x >>> 16, x & 0xffff]);
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best === -1) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}

const formatV4 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");

/**
 * A range as the API stores and shows it: the network address (host bits cleared) and its prefix,
 * IPv4 dotted, IPv6 compressed in lowercase; a bare address is a /32 or /128. A v4-mapped IPv6 range
 * of /96 or longer is shown as the IPv4 range it is. Null when the text is not a range.
 */
export function normalizeRange(text: string): string | null {
  // A zone index or brackets belong to a connection's address, not to a range someone writes down.
  if (/[%[\]]/.test(text)) return null;
  const slash = text.indexOf("/");
  const address = parseAddress(slash === -1 ? text : text.slice(0, slash));
  if (!address) return null;
  let prefix = address.v4 ? 32 : 128;
  if (slash !== -1) {
    const given = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(given) || Number(given) > prefix) return null;
    prefix = Number(given);
  }
  const bits = address.v4 ? prefix + V4_MAPPED_PREFIX : prefix;
  const mask = maskOf(bits);
  const net = address.words.map((w, i) => (w & mask[i]!) >>> 0) as Words;
  if (isV4Mapped(net) && bits >= V4_MAPPED_PREFIX) return `${formatV4(net[3])}/${bits - V4_MAPPED_PREFIX}`;
  return `${formatV6(net)}/${bits}`;
}

/** A normalized range (`normalizeRange`'s output) ready to match. */
function toRange(normalized: string): IpRange {
  const slash = normalized.indexOf("/");
  const address = parseAddress(normalized.slice(0, slash));
  const prefix = Number(normalized.slice(slash + 1));
  // Stored ranges were normalized on the way in; anything else matches nothing, closed.
  if (!address) return { net: [1, 1, 1, 1], mask: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff] };
  const mask = maskOf(address.v4 ? prefix + V4_MAPPED_PREFIX : prefix);
  return { net: address.words.map((w, i) => (w & mask[i]!) >>> 0) as Words, mask };
}

// Parsed once per cache entry: the memory tier hands back the same entry object, so its list is the key.
const parsed = new WeakMap<readonly string[], IpRange[]>();

/** Whether `clientIp` is inside one of the ranges. Something that is not an address ("local") is outside. */
export function ipAllowed(allowedIps: readonly string[], clientIp: string): boolean {
  let ranges = parsed.get(allowedIps);
  if (!ranges) {
    ranges = allowedIps.map(toRange);
    parsed.set(allowedIps, ranges);
  }
  const address = parseAddress(clientIp);
  if (!address) return false;
  const w = address.words;
  return ranges.some(
    (r) =>
      (w[0] & r.mask[0]) >>> 0 === r.net[0] &&
      (w[1] & r.mask[1]) >>> 0 === r.net[1] &&
      (w[2] & r.mask[2]) >>> 0 === r.net[2] &&
      (w[3] & r.mask[3]) >>> 0 === r.net[3],
  );
}

/**
 * Whether every address of `range` is inside one of `ranges` (all normalized): what an allowlisted
 * admin token may hand on (worker/auth/token-rights.ts).
 */
export function rangeWithin(range: string, ranges: readonly string[]): boolean {
  const inner = toRange(range);
  return ranges
    .map(toRange)
    .some((outer) =>
      outer.mask.every((m, i) => (m & ~inner.mask[i]!) >>> 0 === 0 && (inner.net[i]! & m) >>> 0 === outer.net[i]),
    );
}
