// Issue 15, items 1 and 2 in the console: Regenerate with a 1-hour grace shows the old secret's state on
// the token screen and "End grace now" ends it; the allowed addresses are set in the create dialog and
// edited on the token, a bad range refused beside the field. Uses the owner and organization
// console.test.ts creates (or creates them).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterSudo, call, launch, newPage, ORG, OWNER, shot, signInOwner, verify } from "./browser";

let browser: Browser;
let page: Page;
const TOKENS = `/orgs/${ORG.slug}/tokens`;

beforeAll(async () => {
  browser = await launch();
  ({ page } = await newPage(browser));
  expect(await signInOwner(page)).toBeLessThan(300);
  expect((await call(page, "POST", "/api/session/confirm", { password: OWNER.password })).status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
});

const dialog = (name: string | RegExp) => page.getByRole("dialog", { name });
const heading = (name: string | RegExp) => page.getByRole("heading", { level: 1, name }).waitFor();

async function apiToken(name: string, over: Record<string, unknown> = {}) {
  const res = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
    kind: "org",
    name,
    expiresAt: null,
    projects: "*",
    permissions: ["analysis:execute"],
    ...over,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { token: { id: string }; secret: string };
}

describe("rotation with a grace period", () => {
  it("Regenerate with a 1-hour grace: both secrets work, the token shows the old secret, End grace now ends it", async () => {
    const { token, secret: oldSecret } = await apiToken("rot grace");
    await page.goto(`${TOKENS}/${token.id}`);
    await heading("rot grace");
    await page.getByRole("button", { name: "Regenerate" }).click();
    const d = await afterSudo(page, "Regenerate token");
    await d.getByLabel("The current secret stops working").selectOption({ label: "In 1 hour" });
    await d.getByRole("button", { name: "Regenerate" }).click();
    const shown = dialog("Your token “rot grace”");
    const newSecret = await shown.getByLabel("Token").inputValue();
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByText("Copied to the clipboard.").waitFor();
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });

    const old = await verify(oldSecret);
    expect(old.body).toMatchObject({ result: 0, token: { rotation: { oldSecret: true } } });
    expect((await verify(newSecret)).body.valid).toBe(true);

    // The old secret was just used: reloaded, the token says so.
    await page.reload();
    const state = page.getByTestId("old-secret");
    await state.getByText(/Still works until/).waitFor();
    await state.getByText(/Still in use: last/).waitFor();
    await shot(page, "token-rotation-grace");
    await state.getByRole("button", { name: "End grace now" }).click();
    const ask = dialog("End the grace period now?");
    await ask.getByRole("button", { name: "End grace now" }).click();
    await page.getByText("The old secret no longer works.").waitFor();
    await state.waitFor({ state: "detached" });
    expect((await verify(oldSecret)).body).toMatchObject({ result: 3, valid: false });
    expect((await verify(newSecret)).body.valid).toBe(true);
  });
});

describe("IP allowlists", () => {
  it("set in the create dialog, normalized on the token screen", async () => {
    await page.goto(TOKENS);
    await heading("Tokens");
    await page.getByRole("button", { name: "New token" }).click();
    const d = dialog("New token");
    await d.getByLabel("Name", { exact: true }).fill("ip fenced");
    await d.getByLabel("Expires").selectOption("7");
    await d.getByText("All projects, current and future").click();
    await d.getByLabel("Permission set").selectOption({ index: 1 });
    await d.getByLabel("Allowed addresses (optional)").fill("203.0.113.77/24\n2001:DB8::1");
    await d.getByRole("button", { name: "Create token" }).click();
    const shown = await afterSudo(page, "Your token “ip fenced”");
    const secret = await shown.getByLabel("Token").inputValue();
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByText("Copied to the clipboard.").waitFor();
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    await page.getByRole("link", { name: "ip fenced" }).click();
    await heading("ip fenced");
    await page.getByText("203.0.113.0/24", { exact: true }).waitFor();
    await page.getByText("2001:db8::1/128", { exact: true }).waitFor();
    // This test's own requests come from no listed address.
    expect((await verify(secret)).body).toMatchObject({ result: 14, error: "ip_not_allowed" });
  });

  it("edited on the token: a bad range is refused beside the field, a good one saved", async () => {
    const { token } = await apiToken("ip edit");
    await page.goto(`${TOKENS}/${token.id}`);
    await heading("ip edit");
    await page.getByText("Any address").waitFor();
    await page.getByRole("button", { name: "Edit addresses" }).click();
    const d = await afterSudo(page, "Allowed addresses");
    const field = d.getByLabel("Allowed addresses (optional)");
    await field.fill("198.51.100.0/24\n10.0.0.0/33");
    await d.getByRole("button", { name: "Save" }).click();
    const error = d.locator('[data-field="allowedIps"] .err');
    await error.waitFor();
    expect(await error.textContent()).toContain('"10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR range');
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    await shot(page, "token-allowlist-error");
    await field.fill("198.51.100.9/24");
    expect(await error.count()).toBe(0);
    await d.getByRole("button", { name: "Save" }).click();
    await d.waitFor({ state: "detached" });
    await page.getByText("Allowed addresses saved.").waitFor();
    await page.getByText("198.51.100.0/24", { exact: true }).waitFor();
    const after = await call(page, "GET", `/api/orgs/${ORG.slug}/tokens/${token.id}`);
    expect(after.body.allowedIps).toEqual(["198.51.100.0/24"]);
  });
});
