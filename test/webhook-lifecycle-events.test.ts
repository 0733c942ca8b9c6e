import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { newUserRow } from "../worker/accounts/users";
import { database } from "../worker/db/client";
import { users } from "../worker/db/schema";
import { primarySession } from "../worker/db/session";
import { DAY_MS, MINUTE_MS, WEBHOOK_LOG_RETENTION_DAYS, WEBHOOK_MAX_ATTEMPTS } from "../worker/limits";
import { AUDIT_WEBHOOK_EVENTS, DEFAULT_WEBHOOK_EVENTS, DIRECT_WEBHOOK_EVENTS } from "../worker/webhooks/events";
import { api, login, OWNER, setupOwner, sudoSession } from "./support/api-client";
import { countRows, jobStatus, resetJobState, runCronAt } from "./support/cron";
import { makeOrg, makeToken } from "./support/fixtures";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

// Lifecycle events (docs/API.md "Webhook events"): an organization subscribes to event types, the
// changes it makes through the API queue them in their own transaction, the cron delivers them signed
// by Standard Webhooks with backoff, and the console's delivery log shows and redelivers them.

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const HOST = "hooks.lifecycle.test";
const SECRET = webhookSecret("lifecycle events");

interface Delivery {
  id: string;
  timestamp: number;
  type: string;
  body: { id: string; type: string; createdAt: string; org: { slug: string }; data: Record<string, any> };
}
/** What the receiver accepted (verified with the `standardwebhooks` library as it arrived), in order. */
let received: Delivery[] = [];
/** Every POST to the receiver, accepted or not. */
let attempts: string[] = [];
let receiverDown = false;

let owner: { cookie: string; orgId: string; orgSlug: string };
let clock = T0;
const at = (t: number) => {
  clock = t;
  vi.setSystemTime(t);
};
/** Runs the cron at `t`, which becomes the clock. */
const cron = (t: number) => {
  clock = t;
  return runCronAt(t);
};
/** A fresh session with sudo at the current clock (a session's sudo lasts 5 minutes). */
const sudo = () => sudoSession(OWNER.email, OWNER.password);

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  at(T0);
  owner = await setupOwner({ slug: "acme", name: "Acme" });
  const hook = await api("PATCH", "/api/orgs/acme", {
    cookie: await sudo(),
    body: { webhook: { url: `https://${HOST}/in`, secret: SECRET } },
  });
  expect(hook.status).toBe(200);
});
afterAll(() => vi.useRealTimers());
beforeEach(async () => {
  await resetJobState();
  received = [];
  attempts = [];
  receiverDown = false;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).host !== HOST) throw new Error(`unexpected fetch to ${request.url}`);
    const raw = await request.text();
    attempts.push(request.headers.get("webhook-id")!);
    if (receiverDown) return new Response("down", { status: 503 });
    const body = verifiedPayload(SECRET, request.headers, raw) as Delivery["body"];
    received.push({
      id: request.headers.get("webhook-id")!,
      timestamp: Number(request.headers.get("webhook-timestamp")),
      type: body.type,
      body,
    });
    return new Response(null, { status: 204 });
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  // Each test starts from an empty outbox and its own subscription.
  await env.DB.prepare("DELETE FROM webhook_outbox").run();
});

const subscribe = async (events: string[]) => {
  const res = await api("PUT", "/api/orgs/acme/webhook/events", { cookie: await sudo(), body: { events } });
  expect(res.status).toBe(200);
  return res.body as { events: string[]; available: string[] };
};
const createToken = async (cookie: string, name: string, extra: Record<string, unknown> = {}) => {
  const res = await api("POST", "/api/orgs/acme/tokens", {
    cookie,
    body: { kind: "org", name, expiresAt: null, projects: "*", permissions: ["analysis:execute"], ...extra },
  });
  expect(res.status).toBe(201);
  return res.body as { token: { id: string }; secret: string };
};
const deliveries = async () => {
  const res = await api("GET", "/api/orgs/acme/webhook/deliveries", {
    cookie: await login(OWNER.email, OWNER.password),
  });
  expect(res.status).toBe(200);
  return res.body.items as {
    id: string;
    type: string;
    state: string;
    attempts: number;
    status: number | null;
    error: string | null;
    nextAttemptAt: string | null;
  }[];
};

describe("the event map", () => {
  it("is the same in the code and in the table the audit trigger reads, and the defaults need no trigger", async () => {
    const { results } = await env.DB.prepare("SELECT action, event_type FROM webhook_event_map ORDER BY action").all<{
      action: string;
      event_type: string;
    }>();
    expect(Object.fromEntries(results.map((r) => [r.action, r.event_type]))).toEqual(AUDIT_WEBHOOK_EVENTS);
    for (const type of DEFAULT_WEBHOOK_EVENTS) expect(DIRECT_WEBHOOK_EVENTS).toContain(type);
    for (const type of DIRECT_WEBHOOK_EVENTS) expect(Object.keys(AUDIT_WEBHOOK_EVENTS)).not.toContain(type);
  });
});

describe("subscriptions", () => {
  it("default to what webhooks received before (notices and leak alerts), and list every type", async () => {
    await env.DB.prepare("DELETE FROM webhook_settings").run();
    const res = await api("GET", "/api/orgs/acme/webhook/events", { cookie: owner.cookie });
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual(["token.expiring", "token.leaked", "token.purge_warning"]);
    expect(res.body.available).toEqual(expect.arrayContaining(["token.created", "token.rotated", "member.removed"]));
  });

  it("are changed by org admins with sudo, or a token holding manage:settings, and nobody else", async () => {
    const noSudo = await api("PUT", "/api/orgs/acme/webhook/events", {
      cookie: owner.cookie,
      body: { events: ["token.created"] },
    });
    expect(noSudo.status).toBe(403);
    expect(noSudo.body.error.code).toBe("sudo_required");

    const cookie = await sudo();
    const settings = await createToken(cookie, "settings bot", { permissions: ["manage:settings"], admin: true });
    const tokensOnly = await createToken(cookie, "tokens bot", { permissions: ["manage:tokens"], admin: true });
    const put = await api("PUT", "/api/orgs/acme/webhook/events", {
      token: settings.secret,
      body: { events: ["token.revoked", "token.created", "token.revoked"] },
    });
    expect(put.status).toBe(422);
    const ok = await api("PUT", "/api/orgs/acme/webhook/events", {
      token: settings.secret,
      body: { events: ["token.revoked", "token.created"] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.events).toEqual(["token.created", "token.revoked"]);
    for (const path of ["/api/orgs/acme/webhook/events", "/api/orgs/acme/webhook/deliveries"]) {
      const refused = await api("GET", path, { token: tokensOnly.secret });
      expect(refused.status).toBe(403);
    }
    const unknown = await api("PUT", "/api/orgs/acme/webhook/events", { cookie, body: { events: ["token.exploded"] } });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details.fields).toHaveProperty("events.0");

    // Another organization's admin token does not reach this one's settings or log.
    const other = await api("POST", "/api/orgs", { cookie, body: { slug: "umbrella", name: "Umbrella" } });
    expect(other.status).toBe(201);
    const theirs = await api("POST", "/api/orgs/umbrella/tokens", {
      cookie,
      body: {
        kind: "org",
        name: "their bot",
        expiresAt: null,
        projects: "*",
        permissions: ["manage:settings"],
        admin: true,
      },
    });
    for (const [method, path] of [
      ["GET", "/api/orgs/acme/webhook/events"],
      ["GET", "/api/orgs/acme/webhook/deliveries"],
    ] as const) {
      expect((await api(method, path, { token: theirs.body.secret })).status).toBe(404);
    }
    expect(await countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'webhook.events_updated'")).toBe(1);
  });
});

describe("lifecycle events", () => {
  it("delivers exactly the subscribed events of API actions, signed, with the token and the actor", async () => {
    await subscribe(["token.created", "token.revoked", "member.added"]);
    const cookie = await sudo();
    const { token } = await createToken(cookie, "deploy key");
    expect((await api("POST", `/api/orgs/acme/tokens/${token.id}/disable`, { cookie })).status).toBe(200);
    expect((await api("POST", `/api/orgs/acme/tokens/${token.id}/revoke`, { cookie })).status).toBe(200);
    await database(primarySession(env.DB))
      .insert(users)
      .values(
        await newUserRow(
          { email: "colleague@acme.test", name: "C", password: "colleague password 1", isOwner: false },
          clock,
        ),
      );
    const member = await api("POST", "/api/orgs/acme/members", {
      cookie,
      body: { email: "colleague@acme.test", role: "org_member" },
    });
    expect(member.status).toBe(201);
    // Queued, not sent: nothing leaves before the cron.
    expect(received).toHaveLength(0);

    await cron(clock + MINUTE_MS);
    expect(received.map((d) => d.type)).toEqual(["token.created", "token.revoked", "member.added"]);
    const [created, revoked, added] = received;
    expect(created!.id).toBe(created!.body.id);
    expect(created!.body).toMatchObject({
      org: { slug: "acme" },
      data: {
        actor: { type: "user", id: expect.any(String) },
        target: { type: "token", id: token.id },
        token: { id: token.id, name: "deploy key", kind: "org", group: null, user: null, expiresAt: null },
      },
    });
    expect(revoked!.body.data.token).toMatchObject({ id: token.id });
    expect(added!.body.data.member).toMatchObject({ user: { email: "colleague@acme.test" }, role: "org_member" });
    expect(JSON.stringify(received)).not.toContain(SECRET);
    expect((await jobStatus("webhooks")).summary!.counts).toMatchObject({ delivered: 3, failed: 0 });

    // Delivered once: the next run sends nothing.
    await cron(clock + 15 * MINUTE_MS);
    expect(received).toHaveLength(3);
  });

  it("queues events of the cron's own changes (expired, purged) and of bulk kills by the same rule", async () => {
    await subscribe(["token.expired", "token.revoked"]);
    const org = { orgId: owner.orgId, orgSlug: "acme" } as Parameters<typeof makeToken>[0];
    const dying = await makeToken(org, { name: "short-lived", expiresAt: clock + MINUTE_MS }, clock - DAY_MS);
    const cookie = await sudo();
    const a = await createToken(cookie, "bulk a");
    const b = await createToken(cookie, "bulk b");
    const bulk = await api("POST", "/api/orgs/acme/tokens/revoke", { cookie, body: { ids: [a.token.id, b.token.id] } });
    expect(bulk.status).toBe(200);

    await cron(clock + 2 * MINUTE_MS);
    expect(received.map((d) => `${d.type} ${d.body.data.token.name}`).sort()).toEqual([
      "token.expired short-lived",
      "token.revoked bulk a",
      "token.revoked bulk b",
    ]);
    expect(received.find((d) => d.type === "token.expired")!.body.data.token.id).toBe(dying.token.id);
  });

  it("sends nothing for an organization without a webhook, whatever it subscribes to", async () => {
    const quiet = await makeOrg(clock);
    await env.DB.prepare("INSERT INTO webhook_settings (org_id, events, updated_at) VALUES (?1, ?2, ?3)")
      .bind(quiet.orgId, JSON.stringify(["token.created"]), clock)
      .run();
    await makeToken(quiet, { name: "unheard" }, clock);
    expect(await countRows("SELECT count(*) AS n FROM webhook_outbox WHERE org_id = ?1", quiet.orgId)).toBe(0);
  });
});

describe("retries and the delivery log", () => {
  it("retries a failing receiver with exponential backoff under one webhook-id, and logs every attempt", async () => {
    await subscribe(["token.created"]);
    const { token } = await createToken(await sudo(), "flaky receiver");
    receiverDown = true;
    const start = clock + MINUTE_MS;

    await cron(start);
    expect(attempts).toHaveLength(1);
    let [line] = await deliveries();
    expect(line).toMatchObject({ type: "token.created", state: "retrying", attempts: 1, status: 503 });
    expect(line!.error).toBe("the receiver answered HTTP 503");
    expect(line!.nextAttemptAt).toBe(new Date(start + 5 * MINUTE_MS).toISOString());
    expect((await jobStatus("webhooks")).summary!.errors).toEqual(["acme: the receiver answered HTTP 503"]);

    // Not due yet: a run in between leaves it alone.
    await cron(start + 4 * MINUTE_MS);
    expect(attempts).toHaveLength(1);
    await cron(start + 5 * MINUTE_MS);
    expect(attempts).toHaveLength(2);
    [line] = await deliveries();
    // Twice the wait after the second failure.
    expect(line!.nextAttemptAt).toBe(new Date(start + 15 * MINUTE_MS).toISOString());

    receiverDown = false;
    await cron(start + 15 * MINUTE_MS);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts).size).toBe(1);
    expect(received).toHaveLength(1);
    expect(received[0]!.body.data.token.id).toBe(token.id);
    expect(received[0]!.timestamp).toBe((start + 15 * MINUTE_MS) / 1000);
    [line] = await deliveries();
    expect(line).toMatchObject({ state: "delivered", attempts: 3, status: 204, error: null, nextAttemptAt: null });
  });

  it(`gives up after ${WEBHOOK_MAX_ATTEMPTS} attempts`, async () => {
    await subscribe(["token.created"]);
    await createToken(await sudo(), "never heard");
    await env.DB.prepare("UPDATE webhook_outbox SET attempts = ?1")
      .bind(WEBHOOK_MAX_ATTEMPTS - 1)
      .run();
    receiverDown = true;
    await cron(clock + MINUTE_MS);
    const [line] = await deliveries();
    expect(line).toMatchObject({ state: "failed", attempts: WEBHOOK_MAX_ATTEMPTS, nextAttemptAt: null });
    expect((await jobStatus("webhooks")).summary!.counts).toMatchObject({ gaveUp: 1 });
    await cron(clock + DAY_MS);
    expect(attempts).toHaveLength(1);
  });

  it("redelivers an event under its webhook-id, with sudo, only within the organization", async () => {
    await subscribe(["token.created"]);
    await createToken(await sudo(), "redelivered");
    await cron(clock + MINUTE_MS);
    expect(received).toHaveLength(1);
    const [line] = await deliveries();

    const path = `/api/orgs/acme/webhook/deliveries/${line!.id}/redeliver`;
    const noSudo = await api("POST", path, { cookie: await login(OWNER.email, OWNER.password) });
    expect(noSudo.status).toBe(403);
    const again = await api("POST", path, { cookie: await sudo() });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: line!.id, state: "delivered", attempts: 2, status: 204 });
    expect(received.map((d) => d.id)).toEqual([line!.id, line!.id]);
    expect(received[1]!.body).toEqual({ ...received[0]!.body });
    expect(await countRows("SELECT count(*) AS n FROM audit_events WHERE action = 'webhook.redelivered'")).toBe(1);

    // An event waiting for its next retry is sent at once, without waiting for the backoff.
    await createToken(await sudo(), "retried by hand");
    receiverDown = true;
    await cron(clock + MINUTE_MS);
    const [waiting] = await deliveries();
    expect(waiting).toMatchObject({ state: "retrying", attempts: 1 });
    receiverDown = false;
    const now = await api("POST", `/api/orgs/acme/webhook/deliveries/${waiting!.id}/redeliver`, {
      cookie: await sudo(),
    });
    expect(now.body).toMatchObject({ id: waiting!.id, state: "delivered", attempts: 2, nextAttemptAt: null });
    // Held by an attempt under way (a run that is sending it): refused, not sent twice.
    await env.DB.prepare("UPDATE webhook_outbox SET claimed_at = ?2 WHERE id = ?1").bind(waiting!.id, clock).run();
    const busy = await api("POST", `/api/orgs/acme/webhook/deliveries/${waiting!.id}/redeliver`, {
      cookie: await sudo(),
    });
    expect(busy.status).toBe(409);

    expect(
      (await api("POST", "/api/orgs/acme/webhook/deliveries/msg_nothing/redeliver", { cookie: await sudo() })).status,
    ).toBe(404);
    const cookie = await sudo();
    await api("POST", "/api/orgs", { cookie, body: { slug: "initech", name: "Initech" } });
    expect((await api("POST", `/api/orgs/initech/webhook/deliveries/${line!.id}/redeliver`, { cookie })).status).toBe(
      404,
    );
  });

  it("shows expiry notices and leak alerts in the same log under their stable ids", async () => {
    await subscribe(["token.expiring", "token.leaked"]);
    const org = { orgId: owner.orgId, orgSlug: "acme" } as Parameters<typeof makeToken>[0];
    const expiresAt = clock + 3 * DAY_MS;
    const { token } = await makeToken(org, { name: "expiring soon", expiresAt }, clock - DAY_MS);
    await cron(clock + MINUTE_MS);
    expect(received.map((d) => d.id)).toEqual([`msg_notice_7d_${token.id}_${expiresAt}`]);

    at(clock + MINUTE_MS);
    const leaked = await createToken(await sudo(), "pasted in a gist");
    const report = await api("POST", "/api/orgs/acme/leaks", {
      cookie: await sudo(),
      body: [{ token: leaked.secret }],
      bindings: env,
    });
    expect(report.status).toBe(200);
    expect(received.map((d) => d.type)).toEqual(["token.expiring", "token.leaked"]);
    const log = await deliveries();
    expect(log.map((l) => [l.type, l.state, l.attempts])).toEqual([
      ["token.leaked", "delivered", 1],
      ["token.expiring", "delivered", 1],
    ]);
    expect(log[1]!.id).toBe(`msg_notice_7d_${token.id}_${expiresAt}`);
  });

  it("prunes delivered and given-up events past the log's window in the retention job, never one still owed", async () => {
    await subscribe(["token.created"]);
    const cookie = await sudo();
    await createToken(cookie, "old delivered");
    await createToken(cookie, "old owed");
    await cron(clock + MINUTE_MS);
    await env.DB.prepare(
      "UPDATE webhook_outbox SET state = 'pending', next_attempt_at = ?1 WHERE json_extract(data, '$.token.name') = 'old owed'",
    )
      .bind(clock + 365 * DAY_MS)
      .run();
    await cron(clock + (WEBHOOK_LOG_RETENTION_DAYS + 1) * DAY_MS);
    expect((await jobStatus("retention")).summary!.counts).toMatchObject({ webhookEventsDeleted: 1 });
    expect((await deliveries()).map((l) => l.state)).toEqual(["retrying"]);
  });
});
