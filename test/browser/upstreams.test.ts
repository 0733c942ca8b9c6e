// Issue 11 item 7 in the console: an org admin creates a gateway upstream, sees its signing secret
// once (Copy), and rotates it; the secret the console showed is the one the gateway signs with, as a
// small HTTP server standing in for the upstream checks. Uses the owner and organization
// console.test.ts creates (or creates them if it has not run).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterSudo, call, launch, newPage, ORG, shot, signInOwner } from "./browser";
import { type Received, startRecordingUpstream } from "./recording-upstream.mjs";

const SECRET = /^tus_[0-9a-f]{64}$/;

let browser: Browser;
let page: Page;
let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
let origin = "";
let received: Received[] = [];

beforeAll(async () => {
  browser = await launch();
  page = (await newPage(browser)).page;
  upstream = await startRecordingUpstream();
  origin = `${upstream.origin}/api`;
  received = upstream.received;
});
afterAll(async () => {
  await browser?.close();
  await upstream?.close();
});

const heading = (name: string | RegExp) => page.getByRole("heading", { level: 1, name }).waitFor();
const dialog = (name: string | RegExp) => page.getByRole("dialog", { name });

/** Confirms the password if the console asks, then reads and closes the one-time secret dialog. */
async function secretShownOnce(title: string): Promise<string> {
  const shown = await afterSudo(page, title);
  const secret = await shown.getByLabel("Signing secret").inputValue();
  expect(secret).toMatch(SECRET);
  await shown.getByRole("button", { name: "Copy" }).click();
  await shown.getByText("Copied to the clipboard.").waitFor();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await shot(page, `upstream-secret-${received.length}`);
  await shown.getByRole("button", { name: "Done" }).click();
  await shown.waitFor({ state: "detached" });
  return secret;
}

/** A request through the gateway; returns whether its signature holds under `secret` (as docs/INTEGRATION.md defines it). */
async function signedWith(token: string, secret: string): Promise<boolean> {
  const before = received.length;
  const res = await call(page, "GET", `/gw/console-api/things?access_token=${token}&page=2`);
  expect(res.status).toBe(200);
  const got = received[before]!;
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(got.headers["x-tessera-signature"]))!;
  const payload = `${t}.${got.method}.${got.path}.${got.headers["x-tessera-token-id"]}.${got.headers["x-tessera-org"]}`;
  const utf8 = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(payload)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("") === v1;
}

describe("upstreams in the console", () => {
  let token = "";
  let first = "";

  it("an org admin creates an upstream with its rules and sees the signing secret once", async () => {
    expect(await signInOwner(page)).toBeLessThan(300);

    await page.goto(`/orgs/${ORG.slug}/tokens`);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Upstreams" }).click();
    await heading("Upstreams");

    await page.getByRole("button", { name: "New upstream" }).click();
    const d = dialog("New upstream");
    await d.getByLabel("Name", { exact: true }).fill("console-api");
    await d.getByLabel("Origin").fill(origin);
    await d.getByLabel("Path prefix 1").fill("/");
    await d.getByLabel("Permission 1").selectOption("project:browse");
    await d.getByRole("button", { name: "Add rule" }).click();
    await d.getByLabel("Method 2").selectOption("POST");
    await d.getByLabel("Path prefix 2").fill("/analyses");
    await d.getByLabel("Permission 2").selectOption("analysis:execute");
    await shot(page, "upstream-create");
    await d.getByRole("button", { name: "Create" }).click();

    first = await secretShownOnce("Signing secret of “console-api”");
    const row = page.getByRole("row", { name: /console-api/ });
    await row.waitFor();
    expect(await row.getByRole("cell").allInnerTexts()).toEqual(
      expect.arrayContaining([
        "console-api",
        origin,
        "GET / → project:browse\nPOST /analyses → analysis:execute",
        "No",
        `tus_…${first.slice(-4)}`,
      ]),
    );
    // Shown once: not on the page after the dialog, nor in what the API answers for the list.
    expect(await page.content()).not.toContain(first);
    await page.reload();
    await heading("Upstreams");
    expect(await page.content()).not.toContain(first);
    expect(JSON.stringify((await call(page, "GET", `/api/orgs/${ORG.slug}/upstreams`)).body)).not.toContain(
      first.slice(4),
    );

    // The gateway signs with the secret the console showed.
    const made = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
      kind: "org",
      name: "Upstream console",
      expiresAt: null,
      projects: "*",
      permissions: ["project:browse"],
    });
    expect(made.status).toBe(201);
    token = made.body.secret;
    expect(await signedWith(token, first)).toBe(true);
  });

  it("rotates the signing secret: shown once again, and the gateway signs with the new one only", async () => {
    await page.getByRole("button", { name: "Rotate signing secret of console-api" }).click();
    const confirm = dialog("Rotate the signing secret of “console-api”?");
    await confirm.getByRole("button", { name: "Rotate" }).click();
    const second = await secretShownOnce("Signing secret of “console-api”");
    expect(second).not.toBe(first);
    await page
      .getByRole("row", { name: /console-api/ })
      .getByText(`tus_…${second.slice(-4)}`)
      .waitFor();
    expect(await page.content()).not.toContain(second);

    expect(await signedWith(token, second)).toBe(true);
    expect(await signedWith(token, first)).toBe(false);
    await shot(page, "upstreams");
  });

  it("edits the rules and deletes the upstream after a confirmation", async () => {
    await page.getByRole("button", { name: "Edit console-api" }).click();
    const d = dialog("Edit upstream “console-api”");
    await d.getByRole("button", { name: "Remove rule 2" }).click();
    await d.getByRole("button", { name: "Save" }).click();
    await d.waitFor({ state: "detached" });
    // The list shows each rule: the one left, not the removed one.
    const rules = page.getByRole("row", { name: /console-api/ }).getByRole("cell", { name: /project:browse/ });
    await expect.poll(() => rules.textContent()).not.toContain("/analyses");

    await page.getByRole("button", { name: "Delete console-api" }).click();
    await dialog("Delete upstream “console-api”?").getByRole("button", { name: "Delete" }).click();
    await page.getByRole("row", { name: /console-api/ }).waitFor({ state: "detached" });
    expect((await call(page, "GET", `/api/orgs/${ORG.slug}/upstreams/console-api`)).status).toBe(404);
  });
});
