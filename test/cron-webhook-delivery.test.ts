import { afterEach, describe, expect, it, vi } from "vitest";
import { deliverWebhook, WEBHOOK_TIMEOUT_MS } from "../worker/webhooks/deliver";
import { verifiedPayload, webhookSecret } from "./support/webhooks";

// The one delivery function behind expiry notices and leak alerts: what counts as delivered, and
// that every failure comes back as a value (never a throw) with a reason an operator can read.

const ORG = { slug: "acme", webhookUrl: "https://hooks.acme.test/in", webhookSecret: webhookSecret("acme") };
const EVENT = { id: "msg_event_1", type: "token.expiring", data: { hello: "world" } };
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

const answering = (make: () => Promise<Response>) => vi.spyOn(globalThis, "fetch").mockImplementation(make);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("deliverWebhook", () => {
  it("POSTs once, without following redirects and with a timeout, and counts a 2xx as delivered", async () => {
    const fetch = answering(async () => new Response("thanks", { status: 202 }));
    const result = await deliverWebhook(ORG, EVENT, NOW);
    expect(result).toMatchObject({ ok: true, status: 202 });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0]!;
    expect(String(url)).toBe(ORG.webhookUrl);
    expect(init).toMatchObject({ method: "POST", redirect: "manual" });
    expect(init!.signal).toBeInstanceOf(AbortSignal);
    expect(JSON.parse(String(init!.body))).toMatchObject({
      id: "msg_event_1",
      type: "token.expiring",
      org: { slug: "acme" },
      data: { hello: "world" },
    });
  });

  it("signs by Standard Webhooks: the id, the send time and the body, which the standardwebhooks library accepts", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: NOW });
    try {
      const fetch = answering(async () => new Response(null, { status: 204 }));
      await deliverWebhook(ORG, EVENT, NOW);
      const request = new Request(...(fetch.mock.calls[0] as [string, RequestInit]));
      const body = await request.text();
      expect(request.headers.get("webhook-id")).toBe("msg_event_1");
      expect(request.headers.get("webhook-timestamp")).toBe(String(NOW / 1000));
      expect(verifiedPayload(ORG.webhookSecret, request.headers, body)).toMatchObject({ data: { hello: "world" } });
      expect(() => verifiedPayload(webhookSecret("other"), request.headers, body)).toThrow(/signature/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sends plain http only to a loopback address, for local development", async () => {
    const fetch = answering(async () => new Response(null, { status: 204 }));
    for (const local of ["http://localhost:8787/hook", "http://127.0.0.1/hook", "http://[::1]:3000/hook"]) {
      expect(await deliverWebhook({ ...ORG, webhookUrl: local }, EVENT, NOW)).toMatchObject({ ok: true });
    }
    expect(await deliverWebhook({ ...ORG, webhookUrl: "http://hooks.acme.test/in" }, EVENT, NOW)).toMatchObject({
      ok: false,
      error:
        "the webhook URL must be an https:// URL to a public address, without credentials (http:// only to localhost)",
    });
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it("sends nothing under a secret that is not in whsec_ form", async () => {
    const fetch = answering(async () => new Response(null, { status: 204 }));
    expect(await deliverWebhook({ ...ORG, webhookSecret: "a plain shared secret" }, EVENT, NOW)).toMatchObject({
      ok: false,
      error: "the webhook secret is not a whsec_ secret",
    });
    expect(fetch).not.toHaveBeenCalled();
  });

  it("treats a redirect and a server error as failures, with the status", async () => {
    answering(async () => new Response(null, { status: 301, headers: { location: "https://elsewhere.test/" } }));
    expect(await deliverWebhook(ORG, EVENT, NOW)).toMatchObject({
      ok: false,
      status: 301,
      error: "the receiver answered HTTP 301",
    });
    vi.restoreAllMocks();
    answering(async () => new Response("down", { status: 500 }));
    expect(await deliverWebhook(ORG, EVENT, NOW)).toMatchObject({ ok: false, status: 500 });
  });

  it("reports a receiver that does not answer in time, or cannot be reached, without throwing", async () => {
    answering(async () => {
      throw new DOMException("The operation timed out.", "TimeoutError");
    });
    expect(await deliverWebhook(ORG, EVENT, NOW)).toMatchObject({
      ok: false,
      status: null,
      error: `no answer within ${WEBHOOK_TIMEOUT_MS} ms`,
    });
    vi.restoreAllMocks();
    answering(async () => {
      throw new TypeError("Network connection lost.");
    });
    expect(await deliverWebhook(ORG, EVENT, NOW)).toMatchObject({
      ok: false,
      error: "delivery failed: Network connection lost.",
    });
  });

  it("sends nothing when the organization has no webhook or a URL that is not http(s)", async () => {
    const fetch = answering(async () => new Response(null, { status: 204 }));
    expect(await deliverWebhook({ ...ORG, webhookUrl: null }, EVENT, NOW)).toMatchObject({
      ok: false,
      error: "no webhook configured",
    });
    expect(await deliverWebhook({ ...ORG, webhookSecret: null }, EVENT, NOW)).toMatchObject({
      ok: false,
    });
    expect(await deliverWebhook({ ...ORG, webhookUrl: "ftp://hooks.acme.test/" }, EVENT, NOW)).toMatchObject({
      ok: false,
    });
    expect(fetch).not.toHaveBeenCalled();
  });
});
