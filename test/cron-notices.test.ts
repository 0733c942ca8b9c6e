import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import cronDoc from "../docs/CRON.md?raw";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../worker/limits";
import { regenerateToken } from "../worker/tokens/store";
import { countRows, jobStatus, resetJobState, runCronAt } from "./support/cron";
import { storeEnv } from "./support/d1";
import { makeMember, makeOrg, makeToken, type OrgFixture, testActor } from "./support/fixtures";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const RUN_EVERY = 15 * MINUTE_MS;

interface Delivery {
  url: string;
  headers: Headers;
  body: string;
  /** What `standardwebhooks` said of it at arrival, under the secret configured for its host. */
  verified: boolean;
}

/**
 * The receivers: every POST the worker makes is checked with the `standardwebhooks` library, as it
 * arrives (the library's tolerance is 5 minutes around the clock), then recorded; hosts in `down` answer 503.
 */
let deliveries: Delivery[] = [];
const down = new Set<string>();
const secrets = new Map<string, string>();

beforeAll(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
});
afterAll(() => {
  vi.useRealTimers();
});
beforeEach(async () => {
  await resetJobState();
  await env.DB.prepare("UPDATE organizations SET webhook_url = NULL, webhook_secret = NULL").run();
  deliveries = [];
  down.clear();
  secrets.clear();
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const body = await request.text();
    let verified = false;
    try {
      verifiedPayload(secrets.get(new URL(request.url).host)!, request.headers, body);
      verified = true;
    } catch {}
    deliveries.push({ url: request.url, headers: request.headers, body, verified });
    return new Response(null, { status: down.has(new URL(request.url).host) ? 503 : 204 });
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  expect(deliveries.filter((d) => !d.verified).map((d) => d.url)).toEqual([]);
});

async function withWebhook(org: OrgFixture, host: string, secret = webhookSecret(host)): Promise<string> {
  secrets.set(host, secret);
  await env.DB.prepare("UPDATE organizations SET webhook_url = ?2, webhook_secret = ?3 WHERE id = ?1")
    .bind(org.orgId, `https://${host}/tessera`, secret)
    .run();
  return secret;
}

const bodyOf = (d: Delivery) =>
  JSON.parse(d.body) as {
    id: string;
    type: string;
    createdAt: string;
    org: { slug: string };
    data: {
      threshold: string;
      expiresAt: string;
      token: { id: string; name: string; kind: string; group: string | null; user: { id: string } | null };
    };
  };
const forToken = (id: string) => deliveries.filter((d) => bodyOf(d).data.token.id === id);
const noticeEvents = (id: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'token.expiry_notice' AND target_id = ?1", id);

type Verifier = (request: Request, secret: string) => Promise<Record<string, unknown> | null>;

/**
 * The receiver's verification function exactly as docs/CRON.md prints it, with the library its
 * `import` line names handed in (a function body cannot import).
 */
function documentedVerifier(): Verifier {
  const marker = "<!-- example: verify-webhook -->";
  const block = /```js\n([\s\S]*?)\n```/.exec(cronDoc.slice(cronDoc.indexOf(marker)));
  if (!cronDoc.includes(marker) || !block) throw new Error("docs/CRON.md lost its verify-webhook example");
  const code = block[1]!.replace(/^import \{ Webhook \} from "standardwebhooks";$/m, "");
  if (code === block[1]) throw new Error("the verify-webhook example no longer imports Webhook from standardwebhooks");
  return new Function("Webhook", `${code}\nreturn verifyTesseraWebhook;`)(Webhook) as Verifier;
}

const asRequest = (d: Delivery, body = d.body) => new Request(d.url, { method: "POST", headers: d.headers, body });

describe("expiry notices", () => {
  it("posts once per threshold, 7 days and 1 day before expiry, even when the job runs 10 times each", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    await withWebhook(org, "hooks.acme.test");
    const expiresAt = NOW + 6 * DAY_MS;
    const { token } = await makeToken(org, { name: "deploy key", expiresAt }, NOW - DAY_MS);

    for (let i = 0; i < 10; i++) await runCronAt(NOW + i * RUN_EVERY);
    expect(forToken(token.id).map((d) => bodyOf(d).data.threshold)).toEqual(["7d"]);

    const dayBefore = expiresAt - 23 * HOUR_MS;
    for (let i = 0; i < 10; i++) await runCronAt(dayBefore + i * RUN_EVERY);
    expect(forToken(token.id).map((d) => bodyOf(d).data.threshold)).toEqual(["7d", "1d"]);
    expect(await noticeEvents(token.id)).toBe(2);

    // The smallest lead time sent for this expiry, and no claim left behind.
    const flags = await env.DB.prepare(
      "SELECT notified_days AS days, notice_claim_at AS claim FROM tokens WHERE id = ?1",
    )
      .bind(token.id)
      .first();
    expect(flags).toEqual({ days: 1, claim: null });
  });

  it("starts over for a new expiry: the new date's notice is posted, under its own message id", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    await withWebhook(org, "hooks.renewed.test");
    const { token } = await makeToken(org, { name: "renewed key", expiresAt: NOW + 6 * DAY_MS }, NOW - DAY_MS);
    await runCronAt(NOW);
    const renewedAt = NOW + DAY_MS;
    const renewed = renewedAt + 6 * DAY_MS;
    await regenerateToken(storeEnv(env), org.orgId, token.id, testActor, renewedAt, { expiresAt: renewed });
    await runCronAt(renewedAt + RUN_EVERY);
    const sent = forToken(token.id);
    expect(sent.map((d) => bodyOf(d).data.expiresAt)).toEqual([
      new Date(NOW + 6 * DAY_MS).toISOString(),
      new Date(renewed).toISOString(),
    ]);
    expect(new Set(sent.map((d) => d.headers.get("webhook-id"))).size).toBe(2);
    expect(await noticeEvents(token.id)).toBe(2);
  });

  it("signs the body the Standard Webhooks way, which the library and docs/CRON.md's receiver accept", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    const secret = await withWebhook(org, "signed.acme.test");
    const expiresAt = NOW + 3 * DAY_MS;
    const { token } = await makeToken(org, { name: "nightly build", expiresAt }, NOW - DAY_MS);

    await runCronAt(NOW);

    const [delivery] = forToken(token.id);
    expect(delivery!.url).toBe("https://signed.acme.test/tessera");
    expect(delivery!.headers.get("Content-Type")).toBe("application/json");
    expect(delivery!.headers.get("X-Tessera-Event")).toBe("token.expiring");
    expect(delivery!.headers.get("webhook-id")).toBe(`msg_notice_7d_${token.id}_${expiresAt}`);
    expect(delivery!.headers.get("webhook-timestamp")).toBe(String(Math.floor(NOW / 1000)));
    expect(delivery!.headers.get("webhook-signature")).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    // The former headers are gone (docs/CRON.md says so).
    for (const gone of ["X-Tessera-Signature", "X-Tessera-Timestamp", "X-Tessera-Delivery"]) {
      expect(delivery!.headers.has(gone)).toBe(false);
    }
    expect(delivery!.verified).toBe(true);
    const tamper = (body: string) => () => verifiedPayload(secret, delivery!.headers, body);
    expect(tamper(delivery!.body.replace("nightly", "nIghtly"))).toThrow(/signature/);
    expect(() => verifiedPayload(webhookSecret("another"), delivery!.headers, delivery!.body)).toThrow(/signature/);

    // The receiver code of docs/CRON.md accepts it, and refuses a wrong secret, a changed body and an old timestamp.
    const verify = documentedVerifier();
    expect(await verify(asRequest(delivery!), secret)).toMatchObject({
      type: "token.expiring",
      data: { token: { id: token.id } },
    });
    expect(await verify(asRequest(delivery!), webhookSecret("another"))).toBeNull();
    expect(await verify(asRequest(delivery!, delivery!.body.replace("nightly", "nIghtly")), secret)).toBeNull();
    vi.setSystemTime(NOW + 6 * MINUTE_MS);
    expect(await verify(asRequest(delivery!), secret)).toBeNull();

    const body = bodyOf(delivery!);
    expect(body).toMatchObject({
      type: "token.expiring",
      org: { slug: org.orgSlug },
      data: {
        threshold: "7d",
        expiresAt: new Date(expiresAt).toISOString(),
        token: { id: token.id, name: "nightly build", kind: "org", group: null, user: null },
      },
    });
    expect(body.id).toBe(delivery!.headers.get("webhook-id"));
    // The secret itself never travels.
    expect(delivery!.body).not.toContain(secret);
  });

  it("retries a failing receiver on the next run without holding back other organizations", async () => {
    const broken = await makeOrg(NOW - DAY_MS);
    const healthy = await makeOrg(NOW - DAY_MS);
    await withWebhook(broken, "down.broken.test");
    await withWebhook(healthy, "up.healthy.test");
    const made = NOW - DAY_MS;
    const b1 = await makeToken(broken, { name: "b1", expiresAt: NOW + 5 * DAY_MS }, made);
    const b2 = await makeToken(broken, { name: "b2", expiresAt: NOW + 5 * DAY_MS + HOUR_MS }, made);
    const h1 = await makeToken(healthy, { name: "h1", expiresAt: NOW + 5 * DAY_MS + 2 * HOUR_MS }, made);
    const h2 = await makeToken(healthy, { name: "h2", expiresAt: NOW + 6 * DAY_MS }, made);
    down.add("down.broken.test");

    await runCronAt(NOW);
    expect(forToken(h1.token.id)).toHaveLength(1);
    expect(forToken(h2.token.id)).toHaveLength(1);
    // One failure is enough to know the receiver is down: its other notices wait for the next run.
    expect(forToken(b1.token.id).length + forToken(b2.token.id).length).toBe(1);
    expect(await noticeEvents(b1.token.id)).toBe(0);
    const summary = (await jobStatus("notices")).summary!;
    expect(summary.counts).toMatchObject({ sent: 2, failed: 1, deferred: 1 });
    expect(summary.errors).toEqual([`${broken.orgSlug}: the receiver answered HTTP 503`]);

    await runCronAt(NOW + RUN_EVERY);
    expect(forToken(b1.token.id).length + forToken(b2.token.id).length).toBe(2);
    // A retry is the same event: same webhook-id, signed anew at its own send time.
    const [first, retry] = [...forToken(b1.token.id), ...forToken(b2.token.id)];
    expect(retry!.headers.get("webhook-id")).toBe(first!.headers.get("webhook-id"));
    expect(Number(retry!.headers.get("webhook-timestamp"))).toBe(
      Number(first!.headers.get("webhook-timestamp")) + RUN_EVERY / 1000,
    );

    down.clear();
    await runCronAt(NOW + 2 * RUN_EVERY);
    expect(await noticeEvents(b1.token.id)).toBe(1);
    expect(await noticeEvents(b2.token.id)).toBe(1);
    const attempts = deliveries.length;

    // Delivered now: nothing is sent again, to anybody.
    await runCronAt(NOW + 3 * RUN_EVERY);
    expect(deliveries).toHaveLength(attempts);
    expect(forToken(h1.token.id)).toHaveLength(1);
    expect(forToken(h2.token.id)).toHaveLength(1);
  });

  it("names the person behind a personal token, so the organization can tell them", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    await withWebhook(org, "people.acme.test");
    const userId = await makeMember(org.orgId, "org_member", {}, NOW - DAY_MS);
    const { token } = await makeToken(
      org,
      { kind: "personal", userId, name: "my laptop", expiresAt: NOW + 2 * DAY_MS },
      NOW - DAY_MS,
    );

    await runCronAt(NOW);

    expect(forToken(token.id).map((d) => bodyOf(d).data.token)).toEqual([
      { id: token.id, name: "my laptop", kind: "personal", group: null, user: { id: userId } },
    ]);
  });

  it("sends nothing for an organization without a webhook, and catches up once one is configured", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    const { token } = await makeToken(org, { name: "quiet", expiresAt: NOW + 4 * DAY_MS }, NOW - DAY_MS);

    await runCronAt(NOW);
    expect(forToken(token.id)).toHaveLength(0);

    await withWebhook(org, "late.acme.test");
    await runCronAt(NOW + RUN_EVERY);
    expect(forToken(token.id)).toHaveLength(1);
  });

  it("gives a token made with less than a day left only the 1-day notice", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    await withWebhook(org, "short.acme.test");
    const { token } = await makeToken(org, { name: "short-lived", expiresAt: NOW + 20 * HOUR_MS }, NOW - HOUR_MS);

    await runCronAt(NOW);
    await runCronAt(NOW + RUN_EVERY);

    expect(forToken(token.id).map((d) => bodyOf(d).data.threshold)).toEqual(["1d"]);
  });

  it("takes back a claim left by a run that died before sending", async () => {
    const org = await makeOrg(NOW - DAY_MS);
    await withWebhook(org, "crash.acme.test");
    const { token } = await makeToken(org, { name: "orphaned claim", expiresAt: NOW + 3 * DAY_MS }, NOW - DAY_MS);
    // What a run killed between its claim and its delivery leaves behind.
    await env.DB.prepare("UPDATE tokens SET notice_claim_at = ?2 WHERE id = ?1")
      .bind(token.id, NOW - MINUTE_MS)
      .run();

    await runCronAt(NOW);
    expect(forToken(token.id)).toHaveLength(0);

    await runCronAt(NOW + 15 * MINUTE_MS);
    expect(forToken(token.id)).toHaveLength(1);
  });
});
