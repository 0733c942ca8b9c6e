import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { DAY_MS, MINUTE_MS } from "../worker/limits";
import { api, confirm, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { countRows, resetJobState, runCronAt, tokenExists } from "./support/cron";
import { addPerson } from "./support/people";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

// Staged inactivity: a `token.purge_warning` by webhook 7 days before the 60-day purge of an unused token
// with no expiry, once per idle period, and "Keep", which counts as a use.

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const HOST = "hooks.acme.test";
const SECRET = webhookSecret(HOST);

interface Delivery {
  headers: Headers;
  body: { id: string; type: string; data: Record<string, any> };
}
let deliveries: Delivery[] = [];
let cookie: string;
let member: string;

const newToken = (over: Record<string, unknown> = {}) => ({
  kind: "org",
  name: `idle ${crypto.randomUUID()}`,
  expiresAt: null,
  projects: "*",
  permissions: ["analysis:execute"],
  ...over,
});
/** A token made through the API, then made idle since `since` in D1 (created then, never used). */
async function idleToken(since: number, over: Record<string, unknown> = {}): Promise<string> {
  const made = await api("POST", "/api/orgs/acme/tokens", { cookie, body: newToken(over) });
  expect(made.status).toBe(201);
  await env.DB.prepare("UPDATE tokens SET created_at = ?2, last_used_at = NULL WHERE id = ?1")
    .bind(made.body.token.id, since)
    .run();
  return made.body.token.id;
}
const warningsFor = (id: string) =>
  deliveries.filter((d) => d.body.type === "token.purge_warning" && d.body.data.token.id === id);
const events = (action: string, id: string) =>
  countRows("SELECT count(*) AS n FROM audit_events WHERE action = ?1 AND target_id = ?2", action, id);

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
  cookie = (await setupOwner({ slug: "acme", name: "Acme" })).cookie;
  await confirm(cookie, OWNER.password);
  await addPerson({ cookie }, "acme", { email: "m@acme.test", password: "member password 1", role: "org_member" });
  await env.DB.prepare("UPDATE organizations SET webhook_url = ?1, webhook_secret = ?2 WHERE slug = 'acme'")
    .bind(`https://${HOST}/tessera`, SECRET)
    .run();
});
afterAll(() => {
  vi.useRealTimers();
});
beforeEach(async () => {
  vi.setSystemTime(NOW);
  // A test's cron runs months ahead sweep the sessions of the one before.
  cookie = await sudoSession(OWNER.email, OWNER.password);
  member = await sudoSession("m@acme.test", "member password 1");
  await resetJobState();
  deliveries = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const text = await request.text();
    verifiedPayload(SECRET, request.headers, text);
    deliveries.push({ headers: request.headers, body: JSON.parse(text) });
    return new Response(null, { status: 204 });
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("purge warnings", () => {
  it("warn once, 7 days ahead, with a stable Standard Webhooks id, and the purge still comes on day 60", async () => {
    const since = NOW - 54 * DAY_MS;
    const id = await idleToken(since);
    const early = await idleToken(NOW - 52 * DAY_MS);

    for (let i = 0; i < 5; i++) await runCronAt(NOW + i * 15 * MINUTE_MS);
    expect(warningsFor(id)).toHaveLength(1);
    expect(warningsFor(early)).toHaveLength(0);
    const [warning] = warningsFor(id);
    expect(warning!.headers.get("webhook-id")).toBe(`msg_purge_warning_${id}_${since}`);
    expect(warning!.body).toMatchObject({
      id: `msg_purge_warning_${id}_${since}`,
      type: "token.purge_warning",
      data: { purgeAt: new Date(since + 60 * DAY_MS).toISOString(), unusedDays: 60, token: { id, kind: "org" } },
    });
    expect(await events("token.purge_warning", id)).toBe(1);

    await runCronAt(NOW + 2 * DAY_MS);
    expect(warningsFor(early)).toHaveLength(1);
    expect(warningsFor(id)).toHaveLength(1);
    await runCronAt(since + 60 * DAY_MS);
    expect(await tokenExists(id)).toBe(false);
  });

  it("skip tokens with an expiry and revoked ones", async () => {
    const expiring = await idleToken(NOW - 54 * DAY_MS, { expiresAt: new Date(NOW + 200 * DAY_MS).toISOString() });
    const revoked = await idleToken(NOW - 54 * DAY_MS);
    await api("POST", `/api/orgs/acme/tokens/${revoked}/revoke`, { cookie });
    await runCronAt(NOW);
    expect(warningsFor(expiring)).toHaveLength(0);
    expect(warningsFor(revoked)).toHaveLength(0);
  });

  it("retry a failed delivery on the next run with the same id", async () => {
    const id = await idleToken(NOW - 55 * DAY_MS);
    vi.mocked(fetch).mockResolvedValueOnce(new Response(null, { status: 503 }));
    await runCronAt(NOW);
    expect(await events("token.purge_warning", id)).toBe(0);
    await runCronAt(NOW + 15 * MINUTE_MS);
    expect(warningsFor(id).map((d) => d.body.id)).toEqual([`msg_purge_warning_${id}_${NOW - 55 * DAY_MS}`]);
    expect(await events("token.purge_warning", id)).toBe(1);
  });
});

describe("Keep", () => {
  it("counts as a use: the purge counts from now, it is audited, and the next idle period is warned anew", async () => {
    const id = await idleToken(NOW - 58 * DAY_MS);
    await runCronAt(NOW);
    expect(warningsFor(id)).toHaveLength(1);

    const kept = await api("POST", `/api/orgs/acme/tokens/${id}/keep`, { cookie });
    expect(kept.status).toBe(200);
    expect(kept.body.lastUsedAt).toBe(new Date(NOW).toISOString());
    expect(await events("token.kept", id)).toBe(1);

    await runCronAt(NOW + 3 * DAY_MS);
    expect(await tokenExists(id)).toBe(true);
    await runCronAt(NOW + 54 * DAY_MS);
    const again = warningsFor(id);
    expect(again).toHaveLength(2);
    expect(again[1]!.body.id).toBe(`msg_purge_warning_${id}_${NOW}`);
  });

  it("needs sudo and the token's manager; a revoked token is a conflict; a person keeps their own", async () => {
    const id = await idleToken(NOW - 58 * DAY_MS);
    const fresh = (await api("POST", "/api/session", { body: OWNER })).setCookie!;
    const noSudo = await api("POST", `/api/orgs/acme/tokens/${id}/keep`, { cookie: fresh });
    expect(noSudo.body.error.code).toBe("sudo_required");
    expect((await api("POST", `/api/orgs/acme/tokens/${id}/keep`, { cookie: member })).status).toBe(403);
    expect(await events("token.kept", id)).toBe(0);

    await api("POST", `/api/orgs/acme/tokens/${id}/revoke`, { cookie });
    expect((await api("POST", `/api/orgs/acme/tokens/${id}/keep`, { cookie })).status).toBe(409);

    const mine = await api("POST", "/api/me/tokens", {
      cookie: member,
      body: { org: "acme", name: "mine", expiresAt: null, projects: "*", permissions: ["analysis:execute"] },
    });
    const kept = await api("POST", `/api/me/tokens/${mine.body.token.id}/keep`, { cookie: member });
    expect(kept.status).toBe(200);
    expect((await api("POST", `/api/me/tokens/${mine.body.token.id}/keep`, { cookie })).status).toBe(404);
  });
});

describe("expiry notice lead times", () => {
  it("come from the organization's policy", async () => {
    const open = { maxLifetimeDays: null, expiryRequired: false };
    const saved = await api("PUT", "/api/orgs/acme/policies", {
      cookie,
      body: {
        lifetime: { org: open, group: open, personal: open },
        personalPermissionSets: null,
        expiryNoticeDays: [14, 2],
      },
    });
    expect(saved.status).toBe(200);
    const made = await api("POST", "/api/orgs/acme/tokens", {
      cookie,
      body: newToken({ expiresAt: new Date(NOW + 10 * DAY_MS).toISOString() }),
    });
    const id = made.body.token.id;
    const notices = () =>
      deliveries.filter((d) => d.body.type === "token.expiring" && d.body.data.token.id === id).map((d) => d.body.id);
    await runCronAt(NOW);
    const expiry = NOW + 10 * DAY_MS;
    expect(notices()).toEqual([`msg_notice_14d_${id}_${expiry}`]);
    await runCronAt(NOW + 7 * DAY_MS);
    expect(notices()).toHaveLength(1);
    await runCronAt(NOW + 8 * DAY_MS + MINUTE_MS);
    expect(notices()).toEqual([`msg_notice_14d_${id}_${expiry}`, `msg_notice_2d_${id}_${expiry}`]);
  });
});
