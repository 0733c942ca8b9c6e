// What the bench measures: each verify route beside the baseline that does only its floor of work,
// both in the same run. `X-Bench-Cold` is explained in bench/worker.ts.

const VERIFY_PERMISSION = "analysis:execute";
/** Right length and alphabet, wrong checksum: the most work a malformed token can cause (regex and CRC32). */
export const MALFORMED_TOKEN = `tso_${"A".repeat(30)}000000`;

const bearer = (secret) => ({ authorization: `Bearer ${secret}` });

/** A verify request as downstream APIs send it: a permission and a project the token reaches. */
function verifyRequest(org, token, extraHeaders = {}) {
  const project = token.projects === "*" ? org.projectKeys[0] : token.projects[0];
  return {
    path: `/v1/verify?permission=${VERIFY_PERMISSION}&project=${encodeURIComponent(project)}`,
    headers: { ...bearer(token.secret), ...extraHeaders },
  };
}

/** Routes by name: the requests cycled through and the one status every answer must have. */
export function benchRoutes({ org, tokens, gateway }) {
  const hot = tokens[0];
  return {
    constant: { label: "constant route", requests: [{ path: "/__bench/constant" }], expect: 200 },
    memoryHit: { label: "verify, memory hit", requests: [verifyRequest(org, hot)], expect: 200 },
    malformed: {
      label: "verify, malformed token",
      requests: [verifyRequest(org, { ...hot, secret: MALFORMED_TOKEN })],
      expect: 401,
    },
    apiKey: {
      label: "common Hono API-key middleware on KV",
      requests: tokens.map((t) => ({
        path: verifyRequest(org, t).path.replace("/v1/verify", "/__bench/api-key/verify"),
        headers: bearer(t.secret),
      })),
      expect: 200,
    },
    kvBare: {
      label: "bare KV get",
      requests: tokens.map((t) => ({ path: `/__bench/kv?hash=${t.hash}`, headers: { "x-bench-cold": "memory" } })),
      expect: 200,
    },
    kvHit: {
      label: "verify, KV hit (memory cold)",
      requests: tokens.map((t) => verifyRequest(org, t, { "x-bench-cold": "memory" })),
      expect: 200,
    },
    d1Bare: {
      label: "bare D1 get by primary key",
      requests: tokens.map((t) => ({ path: `/__bench/d1?id=${t.id}`, headers: { "x-bench-cold": "kv" } })),
      expect: 200,
    },
    lookup: {
      label: "D1 token lookup query alone",
      requests: tokens.map((t) => ({ path: `/__bench/lookup?hash=${t.hash}`, headers: { "x-bench-cold": "kv" } })),
      expect: 200,
    },
    missFloor: {
      label: "miss floor: KV miss, D1 get, KV put",
      requests: tokens.map((t) => ({
        path: `/__bench/miss-floor?hash=${t.hash}&id=${t.id}`,
        headers: { "x-bench-cold": "kv" },
      })),
      expect: 200,
    },
    miss: {
      label: "verify, full miss (D1)",
      requests: tokens.map((t) => verifyRequest(org, t, { "x-bench-cold": "kv" })),
      expect: 200,
    },
    missReads: {
      label: "the miss's reads alone: KV miss, D1 lookup",
      requests: tokens.map((t) => ({ path: `/__bench/miss-reads?hash=${t.hash}`, headers: { "x-bench-cold": "kv" } })),
      expect: 200,
    },
    upstream: { label: "upstream, direct", requests: [{ path: "/__bench/upstream/v1/items" }], expect: 200 },
    gateway: {
      label: "upstream through the gateway",
      requests: [{ path: gateway.path, headers: bearer(hot.secret) }],
      expect: 200,
    },
  };
}

/**
 * Ratio name -> [baseline, subject, target or null]; a ratio is subject rps / baseline rps under
 * saturation. A full miss is measured against the miss floor, not the bare D1 get: DESIGN.md reads KV
 * before D1 and fills KV after, so the floor (0.3-0.4x the D1 get here) is the most any miss can score
 * against it; `missVsD1` stays as a diagnostic.
 */
export const PAIRS = {
  memoryHit: ["constant", "memoryHit", 0.8],
  malformed: ["constant", "malformed", 0.9],
  kvHit: ["kvBare", "kvHit", 0.9],
  memoryHitVsApiKey: ["apiKey", "memoryHit", 3],
  kvHitVsApiKey: ["apiKey", "kvHit", 3],
  missOverFloor: ["missFloor", "miss", 0.75],
  gateway: ["upstream", "gateway", null],
  // Diagnostics, no target: how much of the miss is the lookup query itself; what the tiers cost
  // before Tessera does any work; the miss against the bare D1 get.
  lookupQuery: ["d1Bare", "lookup", null],
  missFloor: ["d1Bare", "missFloor", null],
  missVsD1: ["d1Bare", "miss", null],
};

/** Routes measured back to back, so a pair sees the same machine; the order flips every round. */
export const GROUPS = [
  ["constant", "memoryHit", "malformed", "apiKey", "kvHit", "kvBare"],
  ["d1Bare", "lookup", "missFloor", "miss"],
  ["upstream", "gateway"],
];

/**
 * Light load: one connection, requests in sequence with a pause after each answer, so background work
 * (the miss's KV fill in `waitUntil`) is done before the next request, as it is off the response path in
 * production. Ratio name -> [baseline, subject, most allowed]; a ratio is subject p50 / baseline p50,
 * lower is better. The miss's answer against its own two reads alone: the response path carries
 * nothing extra when the ratio stays at or under the target.
 */
export const LATENCY_PAIRS = {
  missLatency: ["missReads", "miss", 1.2],
};
