import { afterEach, describe, expect, it, vi } from "vitest";
import { deliverWebhook, WEBHOOK_TIMEOUT_MS } from "../worker/webhooks/deliver";

// The one delivery function behind expiry notices and leak alerts: what counts as delivered, and
// that every failure comes back as a value (never a throw) with a reason an operator can read.

const ORG = { slug: "acme", webhookUrl: "https://hooks.acme.test/in", webhookSecret: "0123456789abcdef-secret" };
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

const answering = (make: () => Promise<Response>) => vi.spyOn(globalThis, "fetch").mockImplementation(make);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("deliverWebhook", () => {
  it("POSTs once, without following redirects and with a timeout, and counts a 2xx as delivered", async () => {
    const fetch = answering(async () => new Response("thanks", { status: 202 }));
    const result = await deliverWebhook(ORG, "token.expiring", { hello: "world" }, NOW);
    expect(result).toMatchObject({ ok: true, status: 202 });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0]!;
    expect(String(url)).toBe(ORG.webhookUrl);
    expect(init).toMatchObject({ method: "POST", redirect: "manual" });
    expect(init!.signal).toBeInstanceOf(AbortSignal);
    expect(JSON.parse(String(init!.body))).toMatchObject({
      type: "token.expiring",
      org: { slug: "acme" },
      data: { hello: "world" },
    });
  });

  it("treats a redirect and a server error as failures, with the status", async () => {
    answering(async () => new Response(null, { status: 301, headers: { location: "https://elsewhere.test/" } }));
    expect(await deliverWebhook(ORG, "token.expiring", {}, NOW)).toMatchObject({
      ok: false,
      status: 301,
      error: "the receiver answered HTTP 301",
    });
    vi.restoreAllMocks();
    answering(async () => new Response("down", { status: 500 }));
    expect(await deliverWebhook(ORG, "token.expiring", {}, NOW)).toMatchObject({ ok: false, status: 500 });
  });

  it("reports a receiver that does not answer in time, or cannot be reached, without throwing", async () => {
    answering(async () => {
      throw new DOMException("The operation timed out.", "TimeoutError");
    });
    expect(await deliverWebhook(ORG, "token.expiring", {}, NOW)).toMatchObject({
      ok: false,
      status: null,
      error: `no answer within ${WEBHOOK_TIMEOUT_MS} ms`,
    });
    vi.restoreAllMocks();
    answering(async () => {
      throw new TypeError("Network connection lost.");
    });
    expect(await deliverWebhook(ORG, "token.expiring", {}, NOW)).toMatchObject({
      ok: false,
      error: "delivery failed: Network connection lost.",
    });
  });

  it("sends nothing when the organization has no webhook or a URL that is not http(s)", async () => {
    const fetch = answering(async () => new Response(null, { status: 204 }));
    expect(await deliverWebhook({ ...ORG, webhookUrl: null }, "token.expiring", {}, NOW)).toMatchObject({
      ok: false,
      error: "no webhook configured",
    });
    expect(await deliverWebhook({ ...ORG, webhookSecret: null }, "token.expiring", {}, NOW)).toMatchObject({
      ok: false,
    });
    expect(
      await deliverWebhook({ ...ORG, webhookUrl: "ftp://hooks.acme.test/" }, "token.expiring", {}, NOW),
    ).toMatchObject({ ok: false });
    expect(fetch).not.toHaveBeenCalled();
  });
});
