// Issue 15 item 5 in the console: Settings → Webhook lists the events the webhook receives and the
// recent deliveries. A delivery to a receiver that is not there shows as retrying with its error; once
// the address is fixed, "Redeliver" sends it again under the same webhook-id, and the log says so.
// A small HTTP server on loopback stands in for the receiver. Uses the owner and organization
// console.test.ts creates (or creates them if it has not run).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, launch, newPage, ORG, OWNER, shot, signInOwner } from "./browser";
import { type Received, startRecordingUpstream } from "./recording-upstream.mjs";

const SECRET = `whsec_${btoa("a-browser-webhook-secret-32-byte")}`;

let browser: Browser;
let page: Page;
let receiver: Awaited<ReturnType<typeof startRecordingUpstream>>;
let received: Received[] = [];
let before: { url: string } | null = null;

beforeAll(async () => {
  browser = await launch();
  page = (await newPage(browser)).page;
  receiver = await startRecordingUpstream();
  received = receiver.received;
});
afterAll(async () => {
  // Leave the organization's webhook as this file found it, for the files after it.
  if (page) {
    await call(page, "POST", "/api/session/confirm", { password: OWNER.password });
    await call(page, "PATCH", `/api/orgs/${ORG.slug}`, { webhook: before ? { url: before.url } : null });
  }
  await browser?.close();
  await receiver?.close();
});

const heading = (name: string | RegExp) => page.getByRole("heading", { level: 1, name }).waitFor();
const row = (type: string) => page.getByRole("row").filter({ hasText: type });

describe("the webhook delivery log", () => {
  it("shows a failed delivery with its error, and Redeliver sends it again under the same webhook-id", async () => {
    expect(await signInOwner(page)).toBeLessThan(300);
    before = (await call(page, "GET", `/api/orgs/${ORG.slug}`)).body.webhook ?? null;
    // Sudo for the next five minutes, so the console does not ask for the password in between.
    expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
    // A port nothing listens on: the first attempt is refused.
    const closed = await startRecordingUpstream();
    await closed.close();
    const hook = await call(page, "PATCH", `/api/orgs/${ORG.slug}`, {
      webhook: { url: `${closed.origin}/hook`, secret: SECRET },
    });
    expect(hook.status).toBe(200);

    await page.goto(`/orgs/${ORG.slug}/settings`);
    await heading("Settings");
    const events = page.getByRole("group", { name: "Events" });
    await events.getByRole("checkbox", { name: "token.expiring" }).waitFor();
    expect(await events.getByRole("checkbox", { name: "token.expiring" }).isChecked()).toBe(true);
    await events.getByRole("checkbox", { name: "token.created" }).check();
    await page.getByRole("button", { name: "Save events" }).click();
    await page.getByText("Saved.").waitFor();
    expect((await call(page, "GET", `/api/orgs/${ORG.slug}/webhook/events`)).body.events).toContain("token.created");

    const made = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
      kind: "org",
      name: "webhook browser test",
      expiresAt: null,
      projects: "*",
      permissions: ["project:browse"],
    });
    expect(made.status).toBe(201);
    expect((await call(page, "POST", "/api/jobs/run")).status).toBe(200);

    await page.getByRole("button", { name: "Refresh" }).click();
    const line = row("token.created");
    await line.getByText("Retrying").waitFor();
    await line.getByText("delivery failed").waitFor();
    expect(await line.getByRole("cell").nth(3).textContent()).toBe("1");
    expect(received).toHaveLength(0);

    // The receiver is up now: fix the address and send the event again from the log.
    await call(page, "PATCH", `/api/orgs/${ORG.slug}`, { webhook: { url: `${receiver.origin}/hook` } });
    // The job run may have sent expiry notices of other tokens too (30 days ahead by default): find this event.
    const log = (await call(page, "GET", `/api/orgs/${ORG.slug}/webhook/deliveries`)).body.items as {
      id: string;
      type: string;
    }[];
    const id = log.find((d) => d.type === "token.created")!.id;
    await line.getByRole("button", { name: /^Redeliver token\.created/ }).click();
    await line.getByText("Delivered").waitFor();
    await line.getByText("HTTP 200").waitFor();
    expect(await line.getByRole("cell").nth(3).textContent()).toBe("2");
    expect(received).toHaveLength(1);
    expect(received[0]!.headers["webhook-id"]).toBe(id);
    expect(received[0]!.headers["webhook-signature"]).toMatch(/^v1,/);
    expect(received[0]!.headers["x-tessera-event"]).toBe("token.created");
    await shot(page, "webhook-deliveries");

    // Redelivering a delivered event sends it again, still under its id.
    await line.getByRole("button", { name: /^Redeliver token\.created/ }).click();
    await line.getByRole("cell", { name: "3", exact: true }).waitFor();
    expect(received.map((r) => r.headers["webhook-id"])).toEqual([id, id]);
  });
});
