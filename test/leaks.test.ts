import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { database } from "../worker/db/client";
import { organizations } from "../worker/db/schema";
import worker from "../worker/index";
import { generateTokenSecret } from "../worker/tokens/format";
import { docExample } from "./support/doc-examples";
import { makeOrg, makeToken, type OrgFixture } from "./support/fixtures";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

// Reports are signed here with a key pair made for this file and configured through the
// LEAK_REPORT_PUBLIC_KEYS variable in GitHub's own `{"public_keys": [...]}` shape. Requests go
// through the worker's fetch handler with that variable set, and wait for its `waitUntil` work
// (the webhook alerts), which a spy on fetch receives for https://hooks.test.

const TESSERA = "https://tessera.test";
const HOOKS = "https://hooks.test";
const HOOK_SECRET = webhookSecret("leak alerts");
const KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";

let signingKey: CryptoKey;
let strangerKey: CryptoKey;
let reportEnv: Env;
const hooks: { url: string; headers: Headers; body: Record<string, unknown> }[] = [];
const realFetch = globalThis.fetch;

const base64 = (bytes: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(bytes)));

/** WebCrypto signs r||s; GitHub sends DER `SEQUENCE { INTEGER r, INTEGER s }`. */
function toDer(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    const body = trimmed[0]! & 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
    return Uint8Array.of(0x02, body.length, ...body);
  };
  const r = integer(raw.subarray(0, 32));
  const s = integer(raw.subarray(32));
  return Uint8Array.of(0x30, r.length + s.length, ...r, ...s);
}

async function signature(key: CryptoKey, body: string): Promise<string> {
  const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(body));
  return base64(toDer(new Uint8Array(raw)));
}

async function call(request: Request, bindings: Env = reportEnv): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function githubReport(body: string, headers: Record<string, string> | null = null): Promise<Response> {
  const signed = headers ?? {
    "Github-Public-Key-Identifier": KEY_ID,
    "Github-Public-Key-Signature": await signature(signingKey, body),
  };
  return call(
    new Request(`${TESSERA}/leaks/github`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...signed },
      body,
    }),
  );
}

async function verifyStatus(secret: string): Promise<number> {
  const res = await call(new Request(`${TESSERA}/v1/verify`, { headers: { "X-Api-Key": secret } }));
  return (await res.json<{ result: number }>()).result;
}

async function auditActions(orgId: string, action: string) {
  const rows = await env.DB.prepare(
    "SELECT actor_type, target_id, detail FROM audit_events WHERE org_id = ? AND action = ? ORDER BY id",
  )
    .bind(orgId, action)
    .all<{ actor_type: string; target_id: string; detail: string }>();
  return rows.results;
}

let watched: OrgFixture;
let quiet: OrgFixture;

beforeAll(async () => {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  signingKey = pair.privateKey;
  strangerKey = (
    (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair
  ).privateKey;
  const spki = (await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer;
  const pem = `-----BEGIN PUBLIC KEY-----\n${base64(spki).replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`;
  reportEnv = {
    ...env,
    LEAK_REPORT_PUBLIC_KEYS: JSON.stringify({ public_keys: [{ key_identifier: KEY_ID, key: pem, is_current: true }] }),
  } as Env;

  watched = await makeOrg();
  quiet = await makeOrg();
  await database(env.DB)
    .update(organizations)
    .set({ webhookUrl: `${HOOKS}/tessera`, webhookSecret: HOOK_SECRET })
    .where(eq(organizations.id, watched.orgId));

  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (new URL(request.url).origin !== HOOKS) return realFetch(input, init);
    // Every alert is recorded as the standardwebhooks library reads it: a delivery it refuses throws here.
    const body = verifiedPayload(HOOK_SECRET, request.headers, await request.text()) as Record<string, unknown>;
    hooks.push({ url: request.url, headers: request.headers, body });
    return new Response(null, { status: 204 });
  });
});
afterAll(() => vi.restoreAllMocks());
beforeEach(() => {
  hooks.length = 0;
});

describe("POST /leaks/github", () => {
  it("refuses a report that is not signed by a configured key, and revokes nothing", async () => {
    const { secret } = await makeToken(watched);
    const body = JSON.stringify([
      { token: secret, type: "tessera_org_token", url: "https://github.com/x/y/blob/1/a.env", source: "content" },
    ]);
    const forged: Record<string, string>[] = [
      { "Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": await signature(strangerKey, body) },
      {
        "Github-Public-Key-Identifier": KEY_ID,
        "Github-Public-Key-Signature": await signature(signingKey, `${body} `),
      },
      {
        "Github-Public-Key-Identifier": "unknown-key",
        "Github-Public-Key-Signature": await signature(signingKey, body),
      },
      { "Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": "bm90IGEgc2lnbmF0dXJl" },
      {},
    ];
    for (const headers of forged) {
      const res = await githubReport(body, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: "invalid_signature" });
    }
    // With no keys configured (the default), even a correctly signed report is refused.
    const unconfigured = await call(
      new Request(`${TESSERA}/leaks/github`, {
        method: "POST",
        headers: {
          "Github-Public-Key-Identifier": KEY_ID,
          "Github-Public-Key-Signature": await signature(signingKey, body),
        },
        body,
      }),
      env,
    );
    expect(unconfigured.status).toBe(401);
    expect(await verifyStatus(secret)).toBe(0);
    expect(hooks).toHaveLength(0);
  });

  it("revokes only the real tokens, records where they leaked, alerts the organization and answers GitHub's feedback format", async () => {
    const leaked = await makeToken(watched);
    const leakedElsewhere = await makeToken(quiet);
    const bystander = await makeToken(watched);
    const unknown = generateTokenSecret("org");
    const url = "https://github.com/octo/app/blob/abc123/.env";
    const items = [
      { token: leaked.secret, type: "tessera_org_token", url, source: "content" },
      {
        token: leakedElsewhere.secret,
        type: "tessera_org_token",
        url: "https://github.com/octo/other/issues/1",
        source: "issue",
      },
      { token: unknown, type: "tessera_org_token", url, source: "content" },
      { token: "tso_thisIsNotARealTokenAtAllxxxxxxxxxxxx", type: "tessera_org_token", url, source: "content" },
    ];
    const res = await githubReport(JSON.stringify(items));
    expect(res.status).toBe(200);
    const feedback = await res.json<{ token_hash: string; token_type: string; label: string }[]>();
    expect(feedback.map((f) => f.label)).toEqual([
      "true_positive",
      "true_positive",
      "false_positive",
      "false_positive",
    ]);
    expect(JSON.stringify(feedback)).not.toContain(leaked.secret);
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(leaked.secret))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    expect(feedback[0]).toEqual({ token_hash: sha, token_type: "tessera_org_token", label: "true_positive" });

    expect(await verifyStatus(leaked.secret)).toBe(6);
    expect(await verifyStatus(leakedElsewhere.secret)).toBe(6);
    expect(await verifyStatus(bystander.secret)).toBe(0);

    const events = await auditActions(watched.orgId, "token.leaked");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor_type: "system", target_id: leaked.token.id });
    expect(JSON.parse(events[0]!.detail)).toEqual({
      reporter: "github",
      url,
      source: "content",
      type: "tessera_org_token",
    });
    expect(await auditActions(watched.orgId, "token.revoked")).toHaveLength(1);
    const everything = await env.DB.prepare("SELECT detail FROM audit_events").all<{ detail: string }>();
    expect(JSON.stringify(everything.results)).not.toContain(leaked.secret);

    // Only the organization with a webhook is alerted, once, with a signed body naming the token and the place.
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.headers.get("x-tessera-event")).toBe("token.leaked");
    expect(hooks[0]!.headers.get("webhook-id")).toBe(hooks[0]!.body.id);
    expect(hooks[0]!.headers.get("webhook-signature")).toMatch(/^v1,/);
    expect(hooks[0]!.body).toMatchObject({
      type: "token.leaked",
      org: { slug: watched.orgSlug },
      data: { reporter: "github", tokens: [{ id: leaked.token.id, url, source: "content" }] },
    });
    expect(JSON.stringify(hooks[0]!.body)).not.toContain(leaked.secret);
    expect(await auditActions(watched.orgId, "webhook.leak_alert")).toHaveLength(1);
  });

  it("processes a report of more than 100 items whole, instead of refusing it", async () => {
    const real = [await makeToken(quiet), await makeToken(quiet), await makeToken(watched)];
    const items = Array.from({ length: 250 }, () => ({ token: generateTokenSecret("org"), type: "tessera_org_token" }));
    for (const [i, at] of [0, 120, 249].entries()) items[at] = { token: real[i]!.secret, type: "tessera_org_token" };
    const res = await githubReport(JSON.stringify(items));
    expect(res.status).toBe(200);
    const feedback = await res.json<{ label: string }[]>();
    expect(feedback).toHaveLength(250);
    expect(feedback.flatMap((f, i) => (f.label === "true_positive" ? [i] : []))).toEqual([0, 120, 249]);
    for (const token of real) expect(await verifyStatus(token.secret)).toBe(6);
  });

  it("treats a repeated report as harmless: no second revocation, audit event or alert", async () => {
    const leaked = await makeToken(watched);
    const body = JSON.stringify([
      { token: leaked.secret, type: "tessera_org_token", url: "https://github.com/a/b", source: "commit" },
    ]);
    expect((await githubReport(body)).status).toBe(200);
    expect(hooks).toHaveLength(1);
    const again = await githubReport(body);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject([{ label: "true_positive" }]);
    expect(hooks).toHaveLength(1);
    const leakedEvents = (await auditActions(watched.orgId, "token.leaked")).filter(
      (e) => e.target_id === leaked.token.id,
    );
    expect(leakedEvents).toHaveLength(1);
    const revokedEvents = (await auditActions(watched.orgId, "token.revoked")).filter(
      (e) => e.target_id === leaked.token.id,
    );
    expect(revokedEvents).toHaveLength(1);
    expect(await verifyStatus(leaked.secret)).toBe(6);
  });

  it("refuses a signed body that is not a list of reports", async () => {
    for (const body of ["not json", "{}", "[]", JSON.stringify([{ type: "x" }])]) {
      const res = await githubReport(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_request" });
    }
  });
});

describe("POST /api/orgs/:org/leaks", () => {
  const report = (org: OrgFixture, headers: Record<string, string>, body: unknown) =>
    call(
      new Request(`${TESSERA}/api/orgs/${org.orgSlug}/leaks`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
      }),
    );

  it("lets an organization admin revoke its own leaked tokens, and no other organization's", async () => {
    const admin = await makeToken(watched, { admin: true, permissions: ["manage:tokens"] });
    const ours = await makeToken(watched);
    const theirs = await makeToken(quiet);
    const res = await report(watched, { Authorization: `Bearer ${admin.secret}` }, [
      { token: ours.secret, url: "https://pastebin.example/abc", source: "pastebin" },
      { token: theirs.secret, url: "https://pastebin.example/abc", source: "pastebin" },
    ]);
    expect(res.status).toBe(200);
    const { results } = await res.json<{ results: { result: string; tokenId: string | null }[] }>();
    expect(results).toEqual([
      expect.objectContaining({ result: "revoked", tokenId: ours.token.id }),
      expect.objectContaining({ result: "not_found", tokenId: null }),
    ]);
    expect(await verifyStatus(ours.secret)).toBe(6);
    expect(await verifyStatus(theirs.secret)).toBe(0);
    const events = (await auditActions(watched.orgId, "token.leaked")).filter((e) => e.target_id === ours.token.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.actor_type).toBe("token");
    expect(hooks.map((h) => h.body.data)).toEqual([expect.objectContaining({ reporter: "admin" })]);
  });

  it("refuses callers who are not admins of the organization", async () => {
    const victim = await makeToken(watched);
    const body = [{ token: victim.secret }];
    expect((await report(watched, {}, body)).status).toBe(401);
    const plain = await makeToken(watched, { permissions: ["analysis:read"] });
    expect((await report(watched, { Authorization: `Bearer ${plain.secret}` }, body)).status).toBe(403);
    const otherAdmin = await makeToken(quiet, { admin: true, permissions: ["manage:tokens"] });
    // Its own organization's admin token needs manage:tokens to report leaks.
    const unpermitted = await makeToken(watched, { admin: true, permissions: ["audit:read"] });
    expect((await report(watched, { Authorization: `Bearer ${unpermitted.secret}` }, body)).status).toBe(403);
    expect((await report(watched, { Authorization: `Bearer ${otherAdmin.secret}` }, body)).status).toBe(404);
    expect(await verifyStatus(victim.secret)).toBe(0);
  });
});

describe("the published pattern (docs/INTEGRATION.md)", () => {
  const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

  /** The checksum as the doc describes it, written from the description: CRC32, 6 base62 digits. */
  function documentedChecksum(body: string): string {
    let crc = 0xffffffff;
    for (const byte of new TextEncoder().encode(body)) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
    let value = (crc ^ 0xffffffff) >>> 0;
    let out = "";
    for (let i = 0; i < 6; i++) {
      out = BASE62[value % 62] + out;
      value = Math.floor(value / 62);
    }
    return out;
  }

  it("finds every kind of token in text, and its checksum is the documented one", () => {
    const pattern = new RegExp(docExample("pattern"), "g");
    for (const [kind, prefix] of [
      ["org", "tso_"],
      ["group", "tsg_"],
      ["personal", "tsp_"],
    ] as const) {
      const token = generateTokenSecret(kind);
      expect(token.startsWith(prefix)).toBe(true);
      const text = `export TESSERA_TOKEN=${token}\n{"token":"${token}"} Bearer ${token}.`;
      expect(text.match(pattern)).toEqual([token, token, token]);
      expect(token.slice(34)).toBe(documentedChecksum(token.slice(0, 34)));
    }
    expect("tso_tooShort".match(pattern)).toBeNull();
    expect(`xtso_${"a".repeat(36)}`.match(pattern)).toBeNull();
    expect(`tsx_${"a".repeat(36)}`.match(pattern)).toBeNull();
  });
});
