// The unit a client is counted by in the throttles. One IPv6 subscriber usually holds a whole /64
// (often more), so counting per IPv6 address would give an attacker 2^64 fresh counters; IPv4
// addresses are scarce and counted one by one.

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

function ipv4(text: string): number[] | null {
  const match = IPV4.exec(text);
  if (!match) return null;
  const octets = match.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** The eight 16-bit groups of an IPv6 address in any textual form (RFC 4291 2.2), or null. */
function ipv6(text: string): number[] | null {
  let body = text;
  const lastColon = body.lastIndexOf(":");
  if (body.includes(".", lastColon)) {
    // A trailing dotted IPv4 part ("::ffff:1.2.3.4") stands for the last two groups.
    const v4 = ipv4(body.slice(lastColon + 1));
    if (!v4) return null;
    body = `${body.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (![...head, ...rest].every((g) => HEXTET.test(g))) return null;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const zeros = new Array<number>(8 - known).fill(0);
  return [...head, ...zeros.map(String), ...rest].map((g) => parseInt(g, 16));
}

/**
 * The network an address belongs to: an IPv4 address itself, an IPv6 address's /64 written as
 * "2001:db8:0:1::/64", an IPv4-mapped IPv6 address ("::ffff:1.2.3.4") as its IPv4 address. Anything
 * else (local development's "local") is its own network.
 */
export function networkOf(address: string): string {
  const text = address.trim().toLowerCase().replace(/%.*$/, "");
  const v4 = ipv4(text);
  if (v4) return v4.join(".");
  if (!text.includes(":")) return text;
  const v6 = ipv6(text);
  if (!v6) return text;
  if (v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff) {
    return [v6[6]! >> 8, v6[6]! & 0xff, v6[7]! >> 8, v6[7]! & 0xff].join(".");
  }
  return `${v6
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}
