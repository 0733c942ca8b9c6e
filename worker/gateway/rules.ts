import { AppError } from "../errors";
import type { UpstreamRule } from "./upstreams";

// Encoded separators would let "/public%2F..%2Fadmin" pass a "/public" rule and reach "/admin" on an
// upstream that decodes before routing; such paths are refused rather than guessed at.
const ENCODED_SEPARATOR = /%2f|%5c/i;

/**
 * The decoded segments of a raw path (as `URL.pathname` gives it: dot segments already resolved),
 * which is what rules and project keys are compared with. The raw path is what gets forwarded.
 */
export function decodePath(rawPath: string): string[] {
  if (ENCODED_SEPARATOR.test(rawPath) || rawPath.includes("\\")) {
    throw new AppError("invalid_request", "The path must not contain encoded slashes or backslashes.");
  }
  const segments = rawPath.split("/").slice(1);
  // "//admin" is "/admin" to servers that merge slashes (nginx by default), and the "/" rule's to ours.
  if (segments.slice(0, -1).includes("")) {
    throw new AppError("invalid_request", "The path must not contain empty segments (//).");
  }
  return segments.map((segment, i) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new AppError("invalid_request", "The path has a malformed percent-encoding.");
    }
    if (decoded === "." || decoded === "..")
      throw new AppError("invalid_request", "The path must not contain dot segments.");
    // Read leniently, "..;" is a dot segment (Tomcat's traversal) and ";x" or " " an empty one.
    const lenient = lenientSegment(decoded);
    if (lenient === "." || lenient === ".." || (lenient === "" && i < segments.length - 1)) {
      throw new AppError(
        "invalid_request",
        "The path has a segment a server could read as empty or as a dot segment (;parameters, spaces).",
      );
    }
    return decoded;
  });
}

/** A segment as a lenient server may read it: `;parameters` cut (Tomcat, Spring), trimmed, case folded. */
const lenientSegment = (segment: string) => segment.split(";", 1)[0]!.trim().toLowerCase();

/** "/a" covers "/a" and "/a/..." but not "/ab"; "/" covers everything. */
function covers(prefix: string, path: string): boolean {
  if (prefix === "/" || path === prefix) return true;
  return path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);
}

/** How specifically a rule's method names the request's: exact, GET standing in for HEAD, or "*". */
function methodRank(ruleMethod: string, method: string): number {
  if (ruleMethod === method) return 3;
  if (method === "HEAD" && ruleMethod === "GET") return 2;
  if (ruleMethod === "*") return 1;
  return 0;
}

/**
 * The rule that governs a request: the longest covering path prefix, and among equals the most
 * specific method. Null when no rule covers it: the gateway denies by default.
 */
function matchRule(rules: UpstreamRule[], method: string, decodedPath: string): UpstreamRule | null {
  let best: UpstreamRule | null = null;
  let bestScore = -1;
  for (const rule of rules) {
    const rank = methodRank(rule.method, method);
    if (rank === 0 || !covers(rule.pathPrefix, decodedPath)) continue;
    const score = rule.pathPrefix.length * 4 + rank;
    if (score > bestScore) {
      best = rule;
      bestScore = score;
    }
  }
  return best;
}

/**
 * How a lenient upstream may read a path: case folded (case-insensitive servers), `;parameters` cut
 * from each segment (Tomcat, Spring) and segments trimmed (servers that trim). Rules are read the same way.
 */
function lenientPath(path: string): string {
  return path.split("/").map(lenientSegment).join("/");
}

// Read once per rule list: the upstream's cache entry hands back the same list, so it is the key.
const lenientRules = new WeakMap<UpstreamRule[], UpstreamRule[]>();

function lenientRulesOf(rules: UpstreamRule[]): UpstreamRule[] {
  let read = lenientRules.get(rules);
  if (!read) {
    read = rules.map((rule) => ({ ...rule, pathPrefix: lenientPath(rule.pathPrefix) }));
    lenientRules.set(rules, read);
  }
  return read;
}

/**
 * The permissions a request needs: its rule's, and the rule's for the path as a lenient upstream may
 * read it, so a looser rule's permission never reaches a stricter rule's path by its spelling. Null
 * when either reading has no rule: the gateway denies by default.
 */
export function requiredPermissions(rules: UpstreamRule[], method: string, decodedPath: string): string[] | null {
  const written = matchRule(rules, method, decodedPath);
  const lenient = matchRule(lenientRulesOf(rules), method, lenientPath(decodedPath));
  if (!written || !lenient) return null;
  return written.permission === lenient.permission ? [written.permission] : [written.permission, lenient.permission];
}
