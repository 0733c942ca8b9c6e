import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TOKEN_KINDS } from "../worker/db/schema";
import { AppError, VERIFY_CODES } from "../worker/errors";
import { MAX_CARRIER_LENGTH } from "../worker/limits";
import { crc32, parseToken, TOKEN_PATTERN, TOKEN_PREFIXES, tokenHint } from "../worker/tokens/format";
import { extractToken, queryParams } from "../worker/verify/carriers";

// Property-based tests of what the hot path reads from strangers: the token parser and the carrier
// extraction (10,000 generated inputs each), then the whole verify route (no 500, ever).

const RUNS = 10_000;
const HTTP_RUNS = 2_000;
// Bounded by the run counts: a few seconds on a quiet machine, generous for a busy one.
const BOUNDED = { timeout: 120_000 };
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** docs/DESIGN.md §2, written out independently of worker/tokens/format.ts: 6 base62 digits of CRC32, most significant first. */
function specChecksum(body: string): string {
  let value = crc32(body);
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

const base62 = (length: number) =>
  fc.string({ unit: fc.constantFrom(...BASE62), minLength: length, maxLength: length });
const kind = fc.constantFrom(...TOKEN_KINDS);
/** A well-formed token built from generated parts: prefix, 30 random characters, the spec's checksum. */
const wellFormed = fc.tuple(kind, base62(30)).map(([k, random]) => {
  const body = TOKEN_PREFIXES[k] + random;
  return { kind: k, token: body + specChecksum(body) };
});
/** Anything a client might send, biased towards near-tokens. */
const anyCandidate = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.tuple(fc.constantFrom("tso_", "tsg_", "tsp_", "tsx_", "TSO_", ""), base62(36)).map(([p, rest]) => p + rest),
  fc
    .tuple(fc.constantFrom("tso_", "tsg_", "tsp_"), fc.string({ minLength: 30, maxLength: 42 }))
    .map(([p, rest]) => p + rest),
);

describe("token parser", () => {
  it("never throws, and accepts only strings of the published pattern whose prefix names the kind", BOUNDED, () => {
    fc.assert(
      fc.property(anyCandidate, (candidate) => {
        const parsed = parseToken(candidate);
        if (parsed === null) return;
        expect(candidate).toMatch(TOKEN_PATTERN);
        expect(candidate.startsWith(TOKEN_PREFIXES[parsed])).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it(
    "round-trips: a token with the spec's checksum parses to its kind, and its hint is prefix and last four",
    BOUNDED,
    () => {
      fc.assert(
        fc.property(wellFormed, ({ kind: k, token }) => {
          expect(parseToken(token)).toBe(k);
          expect(tokenHint(token)).toBe(`${TOKEN_PREFIXES[k]}…${token.slice(-4)}`);
        }),
        { numRuns: RUNS },
      );
    },
  );

  it("accepts a pattern-shaped string exactly when its last six characters are the spec's checksum", BOUNDED, () => {
    fc.assert(
      fc.property(kind, base62(30), base62(6), (k, random, check) => {
        const body = TOKEN_PREFIXES[k] + random;
        expect(parseToken(body + check) !== null).toBe(check === specChecksum(body));
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses any one-character change of a well-formed token", BOUNDED, () => {
    fc.assert(
      fc.property(
        wellFormed,
        fc.nat(39),
        fc.constantFrom(...BASE62, "_", "-", " ", "é"),
        ({ token }, at, replacement) => {
          fc.pre(token[at] !== replacement);
          expect(parseToken(token.slice(0, at) + replacement + token.slice(at + 1))).toBeNull();
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// Header values as clients send them: printable ASCII and tabs (Fetch refuses NUL, CR and LF).
const headerSafe = fc.string({
  unit: fc.constantFrom(..."\t !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", ...BASE62),
  maxLength: 600,
});
/** What a token in a carrier can be: printable ASCII with no space, so every carrier can hold it unchanged. */
const carried = fc.string({ unit: fc.constantFrom(...BASE62, ..."!#$%&'*+-.^_`|~/=?@"), minLength: 1, maxLength: 700 });

type Carrier = "bearer" | "basicUser" | "basicPassword" | "apiKey" | "session" | "accessToken";
const CARRIERS: Carrier[] = ["bearer", "basicUser", "basicPassword", "apiKey", "session", "accessToken"];

function place(token: string, carriers: Carrier[]): { headers: Headers; url: URL } {
  const headers = new Headers();
  const url = new URL("https://tessera.test/v1/verify");
  for (const carrier of carriers) {
    if (carrier === "bearer") headers.set("authorization", `Bearer ${token}`);
    if (carrier === "basicUser") headers.set("authorization", `Basic ${btoa(`${token}:`)}`);
    if (carrier === "basicPassword") headers.set("authorization", `Basic ${btoa(`:${token}`)}`);
    if (carrier === "apiKey") headers.set("x-api-key", token);
    if (carrier === "session") url.searchParams.append("session", token);
    if (carrier === "accessToken") url.searchParams.append("access_token", token);
  }
  return { headers, url };
}

/** One header carrier at most (Authorization holds one value), and any query carriers. */
const carrierSet = fc
  .subarray(CARRIERS, { minLength: 1 })
  .filter((set) => set.filter((c) => c === "bearer" || c === "basicUser" || c === "basicPassword").length <= 1);

describe("carrier extraction", () => {
  it("round-trips: a token in any carriers comes back as it went in (cut at the carrier length limit)", BOUNDED, () => {
    fc.assert(
      fc.property(carried, carrierSet, (token, carriers) => {
        fc.pre(!(token.includes(":") && carriers.some((c) => c === "basicUser" || c === "basicPassword")));
        const { headers, url } = place(token, carriers);
        expect(extractToken(headers, queryParams(url.href))).toBe(token.slice(0, MAX_CARRIER_LENGTH));
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses two carriers holding different tokens with invalid_request", BOUNDED, () => {
    fc.assert(
      fc.property(
        carried,
        carried,
        fc.constantFrom<Carrier>("bearer", "apiKey"),
        fc.constantFrom<Carrier>("session", "accessToken"),
        (a, b, first, second) => {
          fc.pre(a.slice(0, MAX_CARRIER_LENGTH) !== b.slice(0, MAX_CARRIER_LENGTH));
          const { headers } = place(a, [first]);
          const { url } = place(b, [second]);
          expect(() => extractToken(headers, queryParams(url.href))).toThrow(
            expect.objectContaining({ code: "invalid_request" }),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers any header and query values with a string, null or invalid_request, never another error", BOUNDED, () => {
    const query = fc.array(
      fc.tuple(fc.constantFrom("session", "access_token", "permission", "x"), fc.string({ maxLength: 60 })),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(fc.option(headerSafe), fc.option(headerSafe), query, (authorization, apiKey, params) => {
        const headers = new Headers();
        if (authorization !== null) headers.set("authorization", authorization);
        if (apiKey !== null) headers.set("x-api-key", apiKey);
        const url = new URL("https://tessera.test/v1/verify");
        for (const [name, value] of params) url.searchParams.append(name, value);
        try {
          const token = extractToken(headers, queryParams(url.href));
          if (token !== null) expect(token.length).toBeLessThanOrEqual(MAX_CARRIER_LENGTH);
        } catch (err) {
          expect(err).toBeInstanceOf(AppError);
          expect((err as AppError).code).toBe("invalid_request");
        }
      }),
      { numRuns: RUNS },
    );
  });
});

const KNOWN_RESULTS = new Map(
  Object.entries(VERIFY_CODES).map(([error, { result, status }]) => [error, { result, status }]),
);

describe("the verify route under generated requests", () => {
  it("answers every request in the verify envelope with the status of its code, never 500", BOUNDED, async () => {
    const request = fc.record({
      method: fc.constantFrom("GET", "POST"),
      authorization: fc.option(
        fc.oneof(
          headerSafe,
          wellFormed.map((w) => `Bearer ${w.token}`),
          carried.map((t) => `Bearer ${t}`),
        ),
      ),
      apiKey: fc.option(carried),
      query: fc.array(
        fc.tuple(
          fc.constantFrom("session", "access_token", "permission", "project"),
          fc.oneof(carried, fc.string({ maxLength: 40 })),
        ),
        {
          maxLength: 5,
        },
      ),
      body: fc.option(fc.oneof(fc.json(), fc.string({ maxLength: 200 }))),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const url = new URL("https://tessera.test/v1/verify");
        for (const [name, value] of r.query) url.searchParams.append(name, value);
        const headers = new Headers({ "CF-Connecting-IP": "198.51.100.99" });
        if (r.authorization !== null) headers.set("authorization", r.authorization);
        if (r.apiKey !== null) headers.set("x-api-key", r.apiKey);
        const body = r.method === "POST" && r.body !== null ? r.body : undefined;
        const res = await exports.default.fetch(url, { method: r.method, headers, body });
        const answer = await res.json<{ result: number; valid: boolean; error?: string }>();
        expect(res.status).not.toBe(500);
        expect(res.headers.get("cache-control")).toBe("no-store");
        if (answer.valid) return;
        const code = KNOWN_RESULTS.get(answer.error ?? "");
        expect(code, JSON.stringify(answer)).toBeDefined();
        expect({ status: res.status, result: answer.result }).toEqual(code);
      }),
      { numRuns: HTTP_RUNS },
    );
  });
});
