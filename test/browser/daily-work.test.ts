// Issue 16, the "Fix" list: the one-time secret guard, renewal with a new expiry, a narrowed copy,
// sorting, bulk disable and enable, field errors beside their fields, and the token list as cards on
// a 390 px screen. Uses the owner and organization console.test.ts creates (or creates them).
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
  for (const key of ["dw-a", "dw-b"]) await call(page, "POST", `/api/orgs/${ORG.slug}/projects`, { key, name: key });
});
afterAll(async () => {
  await browser?.close();
});

const dialog = (name: string | RegExp, p = page) => p.getByRole("dialog", { name });
const heading = (name: string | RegExp, p = page) => p.getByRole("heading", { level: 1, name }).waitFor();
const focused = (p = page) => p.evaluate(() => document.activeElement?.textContent?.trim() ?? "");

/** A token through the API (fast set-up for the screens under test); answers its id. */
async function apiToken(name: string, over: Record<string, unknown> = {}): Promise<string> {
  const res = await call(page, "POST", `/api/orgs/${ORG.slug}/tokens`, {
    kind: "org",
    name,
    expiresAt: null,
    projects: ["dw-a", "dw-b"],
    permissions: ["analysis:execute", "project:browse"],
    ...over,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.token.id;
}

describe("daily work in the console", () => {
  it("the one-time secret: focus starts on Copy, and closing before Copy asks first", async () => {
    await page.goto(TOKENS);
    await heading("Tokens");
    await page.getByRole("button", { name: "New token" }).click();
    const d = dialog("New token");
    await d.getByLabel("Name", { exact: true }).fill("dw guarded");
    await d.getByLabel("Expires").selectOption("7");
    await d.getByText("All projects, current and future").click();
    await d.getByLabel("Permission set").selectOption({ index: 1 });
    await d.getByRole("button", { name: "Create token" }).click();
    const shown = await afterSudo(page, "Your token “dw guarded”");
    expect(await focused()).toBe("Copy");
    // Escape (or ×, or Done) before Copy: the secret is not dropped without a question.
    await page.keyboard.press("Escape");
    const ask = dialog("You will not see this token again");
    await ask.waitFor();
    expect(await focused()).toBe("Go back");
    await shot(page, "secret-guard");
    await ask.getByRole("button", { name: "Go back" }).click();
    await ask.waitFor({ state: "detached" });
    expect(await shown.isVisible()).toBe(true);
    await shown.getByRole("button", { name: "Copy" }).click();
    // The copy is done once it says so (the clipboard write is asynchronous); then Escape just closes.
    await shown.getByText("Copied to the clipboard.").waitFor();
    await page.keyboard.press("Escape");
    await shown.waitFor({ state: "detached" });
    expect(await ask.count()).toBe(0);
    // A 7-day preset runs to the end of its day: the new token is Active, not About to expire.
    const row = page.getByRole("row", { name: /dw guarded/ });
    await row.getByText("Active").waitFor();
  });

  it("renewal: Regenerate with a new expiry; a date past the longest lifetime is refused in the dialog", async () => {
    const id = await apiToken("dw renew", { expiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString() });
    await page.goto(`${TOKENS}/${id}`);
    await heading("dw renew");
    await page.getByRole("button", { name: "Regenerate" }).click();
    const d = await afterSudo(page, "Regenerate token");
    await d.getByLabel("Set a new expiry").check();
    await d.getByLabel("Expires").selectOption("date");
    await d.getByLabel("Date").fill("2999-12-31");
    await d.getByRole("button", { name: "Regenerate" }).click();
    expect(await d.getByLabel("Date").evaluate((el) => (el as HTMLInputElement).validity.rangeOverflow)).toBe(true);
    await d.getByLabel("Expires").selectOption("none");
    await d.getByRole("button", { name: "Regenerate" }).click();
    const shown = dialog("Your token “dw renew”");
    const secret = await shown.getByLabel("Token").inputValue();
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    const after = await call(page, "GET", `/api/orgs/${ORG.slug}/tokens/${id}`);
    expect(after.body.expiresAt).toBeNull();
    expect((await verify(secret)).body.valid).toBe(true);
  });

  it("a narrowed copy: the Copy dialog is the create form, filled in, and the copy keeps one project", async () => {
    const id = await apiToken("dw wide");
    await page.goto(`${TOKENS}/${id}`);
    await heading("dw wide");
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    const d = await afterSudo(page, "Copy “dw wide”").catch(() => dialog("Copy “dw wide”"));
    await d.waitFor();
    expect(await d.getByLabel("Name", { exact: true }).inputValue()).toBe("dw wide (copy)");
    await d.getByText("dw-a, dw-b").waitFor();
    await d.getByRole("button", { name: "Select projects…" }).click();
    const picker = dialog("Select projects");
    await picker.getByRole("checkbox", { name: /dw-b/ }).uncheck();
    await picker.getByRole("button", { name: /^Select 1 project/ }).click();
    await d.getByLabel("Name", { exact: true }).fill("dw narrow");
    await d.getByRole("button", { name: "Create copy" }).click();
    const shown = await afterSudo(page, "Your token “dw narrow”");
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Done" }).click();
    await heading("dw narrow");
    const projects = page.getByRole("definition").filter({ hasText: /^dw-a/ });
    await projects.waitFor();
    expect(await projects.textContent()).not.toContain("dw-b");
  });

  it("sorting: the Name column sorts the list on the server, both ways, kept in the address", async () => {
    for (const name of ["dw sort c", "dw sort a", "dw sort b"]) await apiToken(name);
    await page.goto(`${TOKENS}?q=dw+sort`);
    await page.getByRole("link", { name: "dw sort a" }).waitFor();
    const names = () => page.locator("table.tokens td.name > a").allTextContents();
    await page.getByRole("button", { name: "Name" }).click();
    await page.waitForURL(/sort=name/);
    await page.getByRole("columnheader", { name: /Name/ }).and(page.locator('[aria-sort="ascending"]')).waitFor();
    await expect.poll(names).toEqual(["dw sort a", "dw sort b", "dw sort c"]);
    await page.getByRole("button", { name: "Name" }).click();
    await page.getByRole("columnheader", { name: /Name/ }).and(page.locator('[aria-sort="descending"]')).waitFor();
    await expect.poll(names).toEqual(["dw sort c", "dw sort b", "dw sort a"]);
  });

  it("bulk Disable and Enable beside Revoke, with a confirmation toast and counts in the filter", async () => {
    for (const name of ["dw bulk 1", "dw bulk 2"]) await apiToken(name);
    await page.goto(`${TOKENS}?q=dw+bulk`);
    await page.getByLabel("Select all").check();
    await page.getByRole("button", { name: "Disable" }).click();
    await dialog("Disable 2 tokens?").getByRole("button", { name: "Disable" }).click();
    await page.getByText("2 tokens disabled.").waitFor();
    await expect.poll(() => page.getByRole("row").filter({ hasText: "Disabled" }).count()).toBe(2);
    await page.getByLabel("Status").getByRole("option", { name: "Disabled (2)" }).waitFor({ state: "attached" });
    await page.getByLabel("Select all").check();
    await page.getByRole("button", { name: "Enable" }).click();
    await dialog("Enable 2 tokens?").getByRole("button", { name: "Enable" }).click();
    await page.getByText("2 tokens enabled.").waitFor();
    await expect.poll(() => page.getByRole("row").filter({ hasText: "Disabled" }).count()).toBe(0);
  });

  it("field errors: a taken name shows beside Name, takes the focus, and clears when the name changes", async () => {
    await apiToken("dw taken");
    await page.goto(TOKENS);
    await page.getByRole("button", { name: "New token" }).click();
    const d = dialog("New token");
    await d.getByLabel("Name", { exact: true }).fill("dw taken");
    await d.getByText("All projects, current and future").click();
    await d.getByLabel("Permission set").selectOption({ index: 1 });
    await d.getByRole("button", { name: "Create token" }).click();
    const error = d.getByText("already used by another token of this owner");
    await error.waitFor();
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe("dw taken");
    expect(await d.getByLabel("Name", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await d.getByLabel("Name", { exact: true }).fill("dw free");
    await error.waitFor({ state: "detached" });
    await d.getByRole("button", { name: "Cancel" }).click();
  });

  it("390 px: the token list is cards without sideways scrolling, and the navigation hides behind Menu", async () => {
    const { context, page: p } = await newPage(browser);
    await p.setViewportSize({ width: 390, height: 844 });
    await context.addCookies(await page.context().cookies());
    await p.goto(`${TOKENS}?q=dw`);
    await p.getByRole("link", { name: "dw sort a" }).waitFor();
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await p.locator("table.tokens thead").isVisible()).toBe(false);
    const card = p.getByRole("row", { name: /dw sort a/ });
    for (const label of ["Status", "Last used", "Expires"]) await card.locator(`td[data-label="${label}"]`).waitFor();
    expect(await card.locator("td.wide").first().isVisible()).toBe(false);
    const nav = p.getByRole("navigation", { name: "Console" });
    expect(await nav.isVisible()).toBe(false);
    await p.getByRole("button", { name: "Menu" }).click();
    await nav.getByRole("link", { name: "Projects" }).click();
    await heading("Projects", p);
    expect(await nav.isVisible()).toBe(false);
    await p.goto(`${TOKENS}?q=dw`);
    await p.getByRole("link", { name: "dw sort a" }).waitFor();
    await shot(p, "tokens-narrow", { docs: true });
    await context.close();
  });
});
